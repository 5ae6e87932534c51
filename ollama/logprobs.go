package ollama

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/emotion"
)

// TopLogprobs is how many alternatives per token the classifier asks for:
// Ollama's maximum (21 is rejected with a 400).
const TopLogprobs = 20

// classDigit returns the class a token stands for: the token with surrounding
// white space (including SentencePiece's ▁) removed must be exactly one of
// the ASCII digits 0-3. Anything else ("4", "joy", "답", "12") is no class.
func classDigit(token string) (emotion.Label, bool) {
	t := strings.TrimFunc(token, func(r rune) bool { return unicode.IsSpace(r) || r == '▁' })
	if len(t) != 1 || t[0] < '0' || t[0] >= '0'+emotion.NumLabels {
		return 0, false
	}
	return emotion.Label(t[0] - '0'), true
}

// Distribution turns the log-probabilities of the first generated token into
// one probability per class. The rule, exactly:
//
//  1. Only the first token position is read (the classifier generates one
//     token). Its candidates are its top_logprobs, plus the chosen token if
//     the list lacks it; a token string counted twice is counted once.
//  2. Each candidate whose token is a class digit after trimming white space
//     ("1", " 1", "▁1", "1\n") adds exp(logprob) to that class, so variants
//     of one digit are summed. Non-finite logprobs are ignored and positive
//     ones are clamped to 0.
//  3. A class with no candidate is not in the top list, so each of its
//     variants has a probability of at most exp(m), m being the smallest
//     logprob listed. The class is given exactly exp(m): the largest value
//     one of its variants could have had. This keeps a truncated list from
//     claiming certainty it does not have; for a confident model exp(m) is
//     negligible.
//  4. The four values are divided by their sum.
//
// It returns the scores and mass, the summed probability of the listed class
// tokens before step 3 (how much of the model's belief was on a class at
// all). With no logprobs it returns errNoLogprobs; with no class among the
// candidates, ErrNoAnswer.
func Distribution(lps []api.Logprob) (scores emotion.Scores, mass float64, err error) {
	if len(lps) == 0 {
		return scores, 0, errNoLogprobs
	}
	first := lps[0]
	cands := first.TopLogprobs
	seen := make(map[string]bool, len(cands)+1)
	var found [emotion.NumLabels]bool
	var sum [emotion.NumLabels]float64
	minLP := 0.0
	anyListed := false
	add := func(t api.TokenLogprob) {
		if seen[t.Token] || math.IsNaN(t.Logprob) || math.IsInf(t.Logprob, 0) {
			return
		}
		seen[t.Token] = true
		lp := math.Min(t.Logprob, 0)
		if !anyListed || lp < minLP {
			minLP = lp
		}
		anyListed = true
		if c, ok := classDigit(t.Token); ok {
			found[c] = true
			sum[c] += math.Exp(lp)
		}
	}
	for _, t := range cands {
		add(t)
	}
	add(first.TokenLogprob)

	var total float64
	for c := range sum {
		mass += sum[c]
	}
	if mass == 0 {
		return scores, 0, fmt.Errorf("%w: first token %q", ErrNoAnswer, first.Token)
	}
	bound := math.Exp(minLP)
	for c := range sum {
		if !found[c] {
			sum[c] = bound
		}
		total += sum[c]
	}
	for c := range sum {
		scores[c] = sum[c] / total
	}
	return scores, mass, nil
}

// ParseAnswer reads a class from answer text: after trimming white space it
// must be exactly one digit 0-3. It is used only when Ollama sent no
// logprobs.
func ParseAnswer(s string) (emotion.Label, error) {
	if c, ok := classDigit(s); ok {
		return c, nil
	}
	return 0, fmt.Errorf("%w: answer %q", ErrNoAnswer, truncate(s, 40))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// oneHot is the distribution given to an answer read from text: the model's
// own choice with probability 1 (Ollama sent nothing better).
func oneHot(l emotion.Label) emotion.Scores {
	var s emotion.Scores
	s[l] = 1
	return s
}
