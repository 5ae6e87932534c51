package ollama

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/emotion"
)

func tok(s string, p float64) api.TokenLogprob {
	return api.TokenLogprob{Token: s, Logprob: math.Log(p)}
}

func pos(top ...api.TokenLogprob) api.Logprob {
	return api.Logprob{TokenLogprob: top[0], TopLogprobs: top}
}

func TestDistribution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lps  []api.Logprob
		want emotion.Scores
		mass float64
		err  error
	}{
		{
			name: "variants of one digit are summed",
			lps:  []api.Logprob{pos(tok("1", .6), tok(" 1", .2), tok("2", .1), tok("0", .05), tok("▁3", .05))},
			want: emotion.Scores{.05, .8, .1, .05},
			mass: 1,
		},
		{
			name: "absent classes get the smallest listed probability",
			lps:  []api.Logprob{pos(tok("1", .8), tok("2", .1), tok("<end_of_turn>", .05))},
			want: emotion.Scores{.05, .8, .1, .05},
			mass: .9,
		},
		{
			name: "renormalised over the four classes",
			lps:  []api.Logprob{pos(tok("3", .3), tok("0", .1), tok("1", .05), tok("2", .05), tok("분노", .5))},
			want: emotion.Scores{.2, .1, .1, .6},
			mass: .5,
		},
		{
			name: "steering tokens are no class",
			lps:  []api.Logprob{pos(tok("joy", .5), tok("4", .2), tok("12", .1), tok("답", .1), tok("2", .05), tok("-1", .05))},
			want: emotion.Scores{.05 / .2, .05 / .2, .05 / .2, .05 / .2},
			mass: .05,
		},
		{
			name: "chosen token missing from the list still counts",
			lps: []api.Logprob{{
				TokenLogprob: tok("0", .5),
				TopLogprobs:  []api.TokenLogprob{tok("1", .25), tok("2", .125), tok("3", .125)},
			}},
			want: emotion.Scores{.5, .25, .125, .125},
			mass: 1,
		},
		{
			name: "a token listed twice counts once",
			lps: []api.Logprob{{
				TokenLogprob: tok("2", .5),
				TopLogprobs:  []api.TokenLogprob{tok("2", .5), tok("1", .25), tok("0", .125), tok("3", .125)},
			}},
			want: emotion.Scores{.125, .25, .5, .125},
			mass: 1,
		},
		{
			name: "only the first position is read",
			lps: []api.Logprob{
				pos(tok("0", .5), tok("1", .5)),
				pos(tok("3", .99), tok("2", .01)),
			},
			want: emotion.Scores{.5 / 2, .5 / 2, .5 / 2, .5 / 2},
			mass: 1,
		},
		{
			name: "non-finite logprobs are ignored",
			lps: []api.Logprob{pos(tok("1", .5), api.TokenLogprob{Token: "2", Logprob: math.NaN()},
				api.TokenLogprob{Token: "3", Logprob: math.Inf(1)}, tok("0", .25))},
			want: emotion.Scores{.25 / 1, .5 / 1, .25 / 1, .25 / 1},
			mass: .75,
		},
		{name: "no class at all", lps: []api.Logprob{pos(tok("<end_of_turn>", .9), tok("감", .1))}, err: ErrNoAnswer},
		{name: "no logprobs", lps: nil, err: errNoLogprobs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, mass, err := Distribution(tt.lps)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			var wsum float64
			for _, p := range want {
				wsum += p
			}
			for i := range want {
				want[i] /= wsum
				if math.Abs(got[i]-want[i]) > 1e-9 {
					t.Fatalf("scores = %v, want %v", got, want)
				}
			}
			if math.Abs(mass-tt.mass) > 1e-9 {
				t.Errorf("mass = %v, want %v", mass, tt.mass)
			}
		})
	}
}

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want emotion.Label
		ok   bool
	}{
		{"0", emotion.Neutral, true}, {" 1", emotion.Sadness, true}, {"2\n", emotion.Joy, true}, {"▁3", emotion.Anger, true},
		{"", 0, false}, {"4", 0, false}, {"joy", 0, false}, {"기쁨", 0, false}, {"12", 0, false}, {"답: 2", 0, false}, {"２", 0, false},
	} {
		got, err := ParseAnswer(tt.in)
		if tt.ok != (err == nil) || (tt.ok && got != tt.want) {
			t.Errorf("ParseAnswer(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if !tt.ok && !errors.Is(err, ErrNoAnswer) {
			t.Errorf("ParseAnswer(%q) error %v is not ErrNoAnswer", tt.in, err)
		}
	}
}

func FuzzDistribution(f *testing.F) {
	f.Add("1", -0.1, " 1", -2.0, "joy", -3.0)
	f.Add("<end_of_turn>", 0.0, "2", -50.0, "3", 1.0)
	f.Fuzz(func(t *testing.T, a string, la float64, b string, lb float64, c string, lc float64) {
		lps := []api.Logprob{{TokenLogprob: api.TokenLogprob{Token: a, Logprob: la},
			TopLogprobs: []api.TokenLogprob{{Token: a, Logprob: la}, {Token: b, Logprob: lb}, {Token: c, Logprob: lc}}}}
		s, _, err := Distribution(lps)
		if err != nil {
			if !errors.Is(err, ErrNoAnswer) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		var sum float64
		for _, p := range s {
			if math.IsNaN(p) || p < 0 || p > 1 {
				t.Fatalf("score out of range: %v", s)
			}
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("scores sum to %v: %v", sum, s)
		}
	})
}

func FuzzQuoteText(f *testing.F) {
	for _, s := range steering {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := QuoteText(s)
		if strings.ContainsAny(q, "\n\r<>") || !strings.HasPrefix(q, `"`) || !strings.HasSuffix(q, `"`) {
			t.Fatalf("QuoteText(%q) = %q is not one inert quoted line", s, q)
		}
		var back string
		if err := json.Unmarshal([]byte(q), &back); err != nil {
			t.Fatalf("QuoteText(%q) = %q is not a JSON string: %v", s, q, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if r := []rune(want); len(r) > MaxTextRunes {
			want = string(r[:MaxTextRunes])
		}
		if back != want {
			t.Fatalf("QuoteText(%q) decodes to %q, want %q", s, back, want)
		}
	})
}
