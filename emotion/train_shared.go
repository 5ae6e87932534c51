package emotion

import (
	"math"
	"math/rand/v2"
)

// fitShared trains the model of TrainOptions.Dim > 0 by AdaGrad:
//
//	logits = S·x + W·(E·x) + bias            four-class softmax head
//	aux_l  = σ(A_l·(E·x) + a_l)              one sigmoid per KOTE label
//
// x is the sparse feature vector, E (buckets × Dim) the feature embeddings,
// S the sparse per-bucket weights. The loss is the weighted cross-entropy
// of the four-class head plus AuxWeight times the binary cross-entropy of
// the auxiliary heads. Afterwards S + E·Wᵀ is the model's 4-column table;
// the embeddings of buckets no training row touched are dropped, so an
// unseen n-gram adds nothing (as in the plain model).
func fitShared(rows []trainRow, o TrainOptions) *Model {
	B, D := 1<<o.Features.Bits, o.Dim
	rng := rand.New(rand.NewPCG(o.Seed, 0x736861726564))
	E, EG := make([]float64, B*D), make([]float64, B*D)
	for i := range E {
		E[i] = (rng.Float64() - 0.5) * 0.02
	}
	S, SG := make([]float64, B*NumLabels), make([]float64, B*NumLabels)
	W, WG := make([]float64, NumLabels*D), make([]float64, NumLabels*D)
	A, AG := make([]float64, KOTELabels*D), make([]float64, KOTELabels*D)
	var ab, abG [KOTELabels]float64
	var bias, biasG [NumLabels]float64
	touched := make([]bool, B)
	for _, r := range rows {
		for _, b := range r.x.idx {
			touched[b] = true
		}
	}
	lr := o.LearningRate
	const eps = 1e-8
	step := func(w, g []float64, i int, grad float64) {
		g[i] += grad * grad
		w[i] -= lr * grad / math.Sqrt(g[i]+eps)
	}
	h, gh := make([]float64, D), make([]float64, D)
	var yl [KOTELabels]float64
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	for epoch := 0; epoch < o.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			r := &rows[k]
			clear(h)
			clear(gh)
			var z [NumLabels]float64
			for j, b := range r.x.idx {
				v := float64(r.x.val[j])
				e := E[int(b)*D : int(b)*D+D]
				for q, ev := range e {
					h[q] += v * ev
				}
				for c := range z {
					z[c] += v * S[int(b)*NumLabels+c]
				}
			}
			var dz [NumLabels]float64
			if r.weight > 0 {
				for c := range z {
					z[c] += bias[c]
					for q, hv := range h {
						z[c] += W[c*D+q] * hv
					}
				}
				p := softmax(z, 1)
				for c := range dz {
					dz[c] = r.weight * (p[c] - r.target[c])
					for q, hv := range h {
						gh[q] += dz[c] * W[c*D+q]
						step(W, WG, c*D+q, dz[c]*hv)
					}
					step(bias[:], biasG[:], c, dz[c])
				}
			}
			if r.multi != nil && o.AuxWeight > 0 {
				clear(yl[:])
				for _, l := range r.multi {
					yl[l] = 1
				}
				for l := range KOTELabels {
					a := A[l*D : l*D+D]
					s := ab[l]
					for q, hv := range h {
						s += a[q] * hv
					}
					g := o.AuxWeight * (1/(1+math.Exp(-s)) - yl[l])
					for q, hv := range h {
						gh[q] += g * a[q]
						step(A, AG, l*D+q, g*hv)
					}
					step(ab[:], abG[:], l, g)
				}
			}
			for j, b := range r.x.idx {
				v := float64(r.x.val[j])
				for q := range D {
					step(E, EG, int(b)*D+q, v*gh[q])
				}
				if r.weight > 0 {
					for c := range NumLabels {
						i := int(b)*NumLabels + c
						step(S, SG, i, v*dz[c]+o.L2*S[i])
					}
				}
			}
		}
	}
	m := &Model{cfg: o.Features, w: make([]float32, B*NumLabels), temp: float32(o.Temperature)}
	for b := range B {
		if !touched[b] {
			continue
		}
		for c := range NumLabels {
			v := S[b*NumLabels+c]
			for q := range D {
				v += E[b*D+q] * W[c*D+q]
			}
			m.w[b*NumLabels+c] = float32(v)
		}
	}
	for c, v := range bias {
		m.bias[c] = float32(v + o.Temperature*o.Offsets[c])
	}
	return m
}
