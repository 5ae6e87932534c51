package ollamatest

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// Token is one candidate token and its probability, for Position.
type Token struct {
	Text string
	P    float64
}

// Position builds the logprobs of one generated token the way Ollama
// reports them: the chosen token is the most likely candidate, and
// top_logprobs lists the candidates by falling logprob, at most 20. P must
// be in (0, 1].
func Position(cands ...Token) []api.Logprob {
	sorted := append([]Token(nil), cands...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].P > sorted[j].P })
	if len(sorted) > 20 {
		sorted = sorted[:20]
	}
	top := make([]api.TokenLogprob, len(sorted))
	for i, t := range sorted {
		top[i] = tokenLogprob(t)
	}
	if len(top) == 0 {
		return nil
	}
	return []api.Logprob{{TokenLogprob: top[0], TopLogprobs: top}}
}

func tokenLogprob(t Token) api.TokenLogprob {
	b := make([]int, len(t.Text))
	for i := range len(t.Text) {
		b[i] = int(t.Text[i])
	}
	return api.TokenLogprob{Token: t.Text, Logprob: math.Log(t.P), Bytes: b}
}

// Digits is a Reply to a classification request whose first token has the
// given probabilities per class digit, split 90/10 between "d" and " d",
// plus filler tokens sharing what is left, as a model would answer.
func Digits(p [4]float64) Reply {
	var cands []Token
	var used float64
	for d, v := range p {
		if v <= 0 {
			continue
		}
		digit := string(rune('0' + d))
		cands = append(cands, Token{digit, 0.9 * v}, Token{" " + digit, 0.1 * v})
		used += v
	}
	rest := 1 - used
	fillers := []string{"\n", "<end_of_turn>", "답", "**", "4", "5", "감", "The", "0.", "1.", "슬픔", "기쁨", "분노", "무감정"}
	if rest > 0 {
		for _, f := range fillers {
			cands = append(cands, Token{f, rest / float64(len(fillers))})
		}
	}
	lp := Position(cands...)
	return Reply{Response: lp[0].Token, Logprobs: lp}
}

// QuotedText returns the text of a classification prompt (`문장: "…"`), or
// "" when the prompt has another form.
func QuotedText(prompt string) string {
	_, q, ok := strings.Cut(prompt, "문장: ")
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal([]byte(strings.TrimSpace(q)), &s) != nil {
		return ""
	}
	return s
}

var keywords = [4][]string{
	1: {"슬프", "슬퍼", "우울", "눈물", "외로", "힘들", "속상", "그립", "보고 싶", "ㅠ"},
	2: {"기쁘", "기뻐", "행복", "좋아", "신나", "고마", "최고", "설레", "ㅋㅋ", "합격"},
	3: {"화가", "화나", "짜증", "열받", "빡치", "억울", "최악", "어이없", "짜증나"},
}

// KeywordReply is the fake's default generate script: a crude keyword count
// over the quoted text standing in for a model, so that the dev server gives
// plausible, varied distributions. It is a demo, not a classifier.
func KeywordReply(req *api.GenerateRequest) Reply {
	text := QuotedText(req.Prompt)
	w := [4]float64{1, 0.3, 0.3, 0.3}
	for c, ks := range keywords {
		for _, k := range ks {
			w[c] += 2 * float64(strings.Count(text, k))
		}
	}
	var sum float64
	for _, v := range w {
		sum += v
	}
	var p [4]float64
	for i, v := range w {
		p[i] = 0.97 * v / sum
	}
	return Digits(p)
}

// EchoChat is the fake's default chat script: a short, fixed, empathetic
// reply quoting the user's last message, streamed word by word.
func EchoChat(req *api.ChatRequest) Reply {
	last := ""
	if n := len(req.Messages); n > 0 {
		last = req.Messages[n-1].Content
	}
	if r := []rune(last); len(r) > 20 {
		last = string(r[:20]) + "…"
	}
	text := "(가짜 Ollama) \"" + last + "\"라고 말씀해 주셨네요. 그 마음을 조금 더 들려주시겠어요?"
	return Reply{Chunks: Words(text), ChunkDelay: 20 * time.Millisecond}
}

// Words splits text into streamable pieces, each word with its following
// space, so that joining them gives text back.
func Words(text string) []string {
	var out []string
	for len(text) > 0 {
		i := strings.IndexByte(text, ' ')
		if i < 0 {
			out = append(out, text)
			break
		}
		out = append(out, text[:i+1])
		text = text[i+1:]
	}
	return out
}
