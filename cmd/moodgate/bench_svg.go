package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
)

// svgPoint is one measurement: offered load (msg/s) and latency (ms).
type svgPoint struct{ X, Y float64 }

// svgSeries is one line of the chart.
type svgSeries struct {
	Name   string
	Color  string
	Dashed bool
	Points []svgPoint
}

// Chart geometry, in SVG user units.
const (
	svgW, svgH                           = 720.0, 440.0
	svgLeft, svgRight, svgTop, svgBottom = 70.0, 190.0, 40.0, 60.0
)

// svgRef is a horizontal reference line, such as a latency target.
type svgRef struct {
	Y     float64
	Label string
}

// writeLatencySVG draws latency (log scale) against offered load (linear)
// as a standalone SVG document, with optional reference lines.
func writeLatencySVG(w io.Writer, title string, series []svgSeries, refs ...svgRef) error {
	maxX, minY, maxY := 0.0, math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, p := range s.Points {
			maxX = math.Max(maxX, p.X)
			if p.Y > 0 {
				minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
			}
		}
	}
	if maxX <= 0 || math.IsInf(minY, 1) {
		return fmt.Errorf("svg: no points to draw")
	}
	for _, r := range refs {
		if r.Y > 0 {
			minY, maxY = math.Min(minY, r.Y), math.Max(maxY, r.Y)
		}
	}
	xStep := niceStep(maxX / 5)
	maxX = math.Ceil(maxX/xStep) * xStep
	lo, hi := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY*1.2))
	if hi <= lo {
		hi = lo + 1
	}
	plotW, plotH := svgW-svgLeft-svgRight, svgH-svgTop-svgBottom
	px := func(x float64) float64 { return svgLeft + x/maxX*plotW }
	py := func(y float64) float64 {
		y = math.Max(y, math.Pow(10, lo))
		return svgTop + plotH - (math.Log10(y)-lo)/(hi-lo)*plotH
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", svgLeft, esc(title))

	// Grid and ticks.
	for x := 0.0; x <= maxX+xStep/2; x += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", px(x), svgTop, px(x), svgTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", px(x), svgTop+plotH+18, x)
	}
	for e := lo; e <= hi; e++ {
		// Decades, and 2 and 5 between them when there are few decades.
		for _, m := range []float64{1, 2, 5} {
			y := m * math.Pow(10, e)
			if m > 1 && (hi-lo > 3 || e == hi) {
				continue
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", svgLeft, py(y), svgLeft+plotW, py(y))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", svgLeft-6, py(y)+4, y)
		}
	}
	for _, r := range refs {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#7d7d7d" stroke-dasharray="2 3"/>`+"\n", svgLeft, py(r.Y), svgLeft+plotW, py(r.Y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", svgLeft+plotW-4, py(r.Y)-5, esc(r.Label))
	}
	// Axes and their labels.
	fmt.Fprintf(&b, `<path d="M%.1f %.1f V%.1f H%.1f" fill="none" stroke="black"/>`+"\n", svgLeft, svgTop, svgTop+plotH, svgLeft+plotW)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">offered load (messages/s, open loop)</text>`+"\n", svgLeft+plotW/2, svgH-18)
	fmt.Fprintf(&b, `<text transform="translate(20 %.1f) rotate(-90)" text-anchor="middle">send → reply latency (ms, log scale)</text>`+"\n", svgTop+plotH/2)

	// Series and legend.
	for i, s := range series {
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(s.Points) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="`, esc(s.Color), dash)
			for j, p := range s.Points {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", px(p.X), py(p.Y))
			}
			b.WriteString("\"/>\n")
			for _, p := range s.Points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %g msg/s, %.3g ms</title></circle>`+"\n",
					px(p.X), py(p.Y), esc(s.Color), esc(s.Name), p.X, p.Y)
			}
		}
		ly := svgTop + 10 + float64(i)*20
		lx := svgLeft + plotW + 15
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+24, ly, esc(s.Color), dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+30, ly+4, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
