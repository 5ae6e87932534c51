package emotion

import (
	"unicode"
	"unicode/utf8"
)

// FeatureConfig selects the hashed features of the embedded model. It is
// stored in the weights file, so a model is always scored with the features
// it was trained on.
type FeatureConfig struct {
	// Bits is log2 of the number of hash buckets (10-24).
	Bits uint8
	// MinN and MaxN bound the character n-grams over the normalised text,
	// spaces included (a space marks a word boundary).
	MinN, MaxN uint8
	// Compact adds the 2- and 3-grams of the text with spaces removed that
	// span a removed space, hashed as the plain n-grams are, so "너무 슬퍼"
	// and "너무슬퍼" share "무슬" and "무슬퍼".
	Compact bool
	// Jamo adds, per Hangul syllable, the syllable without its final
	// consonant joined to the previous character, so 슬펐 and 슬퍼 share one.
	Jamo bool
	// Words adds whole space-separated words and their first two characters.
	Words bool
	// Length adds one feature for the text's length (log2 of its runes) and
	// one for its word count (capped at 16).
	Length bool
}

// DefaultFeatures is the configuration of the committed weights.
var DefaultFeatures = FeatureConfig{Bits: 18, MinN: 1, MaxN: 3, Compact: true, Jamo: true, Words: true}

// Feature-kind seeds keep the hash spaces of the kinds apart.
const (
	seedNgram  = 0x9e3779b97f4a7c15
	seedJamo   = 0x165667b19e3779f9
	seedWord   = 0xd6e8feb86659fd93
	seedPrefix = 0xff51afd7ed558ccd
	seedLength = 0x2545f4914f6cdd1d
	hashMul    = 0x100000001b3
)

// Hangul syllables and the compatibility jamo that Korean chat repeats.
const (
	hangulBase = 0xAC00
	hangulLast = 0xD7A3
	jamoKieuk  = 'ㅋ'
	jamoHieuh  = 'ㅎ'
	jamoYu     = 'ㅠ'
	jamoU      = 'ㅜ'
)

// normalize appends the normalised form of s to dst: lower case; runs of
// white space become one space; runs of ㅋ, ㅎ and of ㅠ/ㅜ become exactly
// two (ㅋㅋ, ㅎㅎ, ㅠㅠ); any other character repeated more than twice is cut
// to two; digits become 0. Leading and trailing space is dropped.
func normalize(dst []rune, s string) []rune {
	start := len(dst)
	var prev rune = -1
	run := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case unicode.IsSpace(r) || r == utf8.RuneError || unicode.IsControl(r):
			r = ' '
		case r >= '0' && r <= '9':
			r = '0'
		case r == jamoU:
			r = jamoYu
		case r < utf8.RuneSelf:
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
		case unicode.IsUpper(r):
			r = unicode.ToLower(r)
		}
		if r == prev {
			run++
		} else {
			prev, run = r, 1
		}
		limit := 2
		switch r {
		case ' ':
			limit = 1
			if len(dst) == start {
				continue
			}
		case '0':
			limit = 1
		case jamoKieuk, jamoHieuh, jamoYu:
			// Any run of ㅋ, ㅎ or ㅠ, one long or ten, becomes a pair.
			if run == 1 {
				dst = append(dst, r, r)
			}
			continue
		}
		if run > limit {
			continue
		}
		dst = append(dst, r)
	}
	if n := len(dst); n > start && dst[n-1] == ' ' {
		dst = dst[:n-1]
	}
	return dst
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// appendFeatures appends the bucket ids of the features of the normalised
// text t to dst. A feature may appear more than once (term counts).
func (c FeatureConfig) appendFeatures(dst []uint32, t []rune) []uint32 {
	shift := 64 - uint(c.Bits)
	n := len(t)
	// Character n-grams over " " + t + " ".
	at := func(i int) rune {
		if i < 0 || i >= n {
			return ' '
		}
		return t[i]
	}
	for i := -1; i <= n; i++ {
		h := uint64(seedNgram)
		for k := 1; k <= int(c.MaxN) && i+k-1 <= n; k++ {
			r := at(i + k - 1)
			h = (h ^ uint64(r)) * hashMul
			if k < int(c.MinN) || (k == 1 && r == ' ') {
				continue
			}
			dst = append(dst, uint32(mix(h^uint64(k))>>shift))
		}
	}
	if c.Compact {
		// n-grams of the text without spaces that cross a removed space.
		for i := 0; i < n; i++ {
			if t[i] == ' ' {
				continue
			}
			// Same hash space as the n-grams above: "무 슬" here is "무슬" there.
			h := uint64(seedNgram)
			crossed := false
			k := 0
			for j := i; j < n && k < 3; j++ {
				if t[j] == ' ' {
					crossed = true
					continue
				}
				h = (h ^ uint64(t[j])) * hashMul
				k++
				if k >= 2 && crossed {
					dst = append(dst, uint32(mix(h^uint64(k))>>shift))
				}
			}
		}
	}
	if c.Jamo {
		for i := 0; i < n; i++ {
			r := t[i]
			if r < hangulBase || r > hangulLast {
				continue
			}
			open := r - (r-hangulBase)%28 // the syllable without its final
			h := (uint64(seedJamo) ^ uint64(at(i-1))) * hashMul
			h = (h ^ uint64(open)) * hashMul
			dst = append(dst, uint32(mix(h)>>shift))
		}
	}
	if c.Length {
		lb := 0
		for v := n; v > 1; v >>= 1 {
			lb++
		}
		words := 0
		for i := 0; i < n; i++ {
			if t[i] != ' ' && (i == 0 || t[i-1] == ' ') {
				words++
			}
		}
		dst = append(dst,
			uint32(mix(seedLength^uint64(lb))>>shift),
			uint32(mix(seedLength^uint64(0x100+min(words, 16)))>>shift))
	}
	if c.Words {
		for i := 0; i < n; {
			if t[i] == ' ' {
				i++
				continue
			}
			h := uint64(seedWord)
			p := uint64(seedPrefix)
			j := i
			for ; j < n && t[j] != ' '; j++ {
				h = (h ^ uint64(t[j])) * hashMul
				if j-i < 2 {
					p = (p ^ uint64(t[j])) * hashMul
				}
			}
			dst = append(dst, uint32(mix(h)>>shift))
			if j-i > 2 {
				dst = append(dst, uint32(mix(p)>>shift))
			}
			i = j
		}
	}
	return dst
}
