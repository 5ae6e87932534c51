package session

import (
	"context"
	"hash/fnv"

	"github.com/moodgate/moodgate/emotion"
)

// Builtin is the responder used when no Ollama chat model is configured, and
// the fallback when generation fails: short, warm Korean replies chosen by
// the message's label and the session's mood. It never calls out and never
// fails.
type Builtin struct{}

var _ Responder = Builtin{}

// Name implements Responder.
func (Builtin) Name() string { return "builtin" }

var builtinReplies = [emotion.NumLabels][]string{
	emotion.Neutral: {
		"이야기해 주셔서 고마워요. 조금 더 들려주실래요?",
		"그렇군요. 요즘 하루는 어떻게 지내고 계세요?",
		"네, 듣고 있어요. 편하게 이어서 말씀해 주세요.",
		"알려 주셔서 고마워요. 지금 가장 마음에 걸리는 건 무엇인가요?",
	},
	emotion.Sadness: {
		"많이 힘드셨겠어요. 그 마음을 이야기해 주셔서 고마워요.",
		"마음이 무거우시군요. 천천히, 하고 싶은 만큼만 이야기해 주세요. 저는 여기 있어요.",
		"그런 일이 있었다니 속상하셨겠어요. 지금은 어떤 기분이 가장 크게 느껴지세요?",
		"혼자 견디기 버거우셨을 것 같아요. 조금이라도 마음을 기댈 수 있는 사람이 곁에 있나요?",
	},
	emotion.Joy: {
		"좋은 일이 있으셨군요! 저도 덩달아 기분이 좋아요.",
		"그 기쁨이 전해져요. 어떤 점이 가장 좋으셨어요?",
		"정말 잘됐네요. 그 순간을 조금 더 들려주실래요?",
		"반가운 소식이에요. 스스로에게도 칭찬 한마디 해 주세요.",
	},
	emotion.Anger: {
		"정말 화가 나셨겠어요. 그렇게 느끼시는 게 충분히 이해돼요.",
		"답답하고 억울한 마음이 느껴져요. 무엇이 가장 속상하게 했나요?",
		"그런 일을 겪으면 누구라도 화가 날 거예요. 잠깐 숨을 고르고 이야기 나눠 봐요.",
		"화가 나는 건 자연스러운 감정이에요. 제가 끝까지 들을게요.",
	},
}

const builtinLowMood = " 요즘 마음이 계속 가라앉아 있는 것 같아 걱정돼요. 원하시면 상담사와 연결해 드릴 수 있어요."

// Reply implements Responder.
func (Builtin) Reply(_ context.Context, req ReplyRequest, delta func(string)) (string, error) {
	// Rotate through the label's replies within a session, from a start
	// that differs between sessions, so consecutive answers do not repeat.
	opts := builtinReplies[req.Result.Label]
	h := fnv.New32a()
	h.Write([]byte(req.SessionID))
	text := opts[int((h.Sum32()+uint32(req.Mood.Messages))%uint32(len(opts)))]
	if req.Mood.Messages >= 3 && req.Mood.Valence < -0.4 && req.Result.Label != emotion.Joy {
		text += builtinLowMood
	}
	if delta != nil {
		delta(text)
	}
	return text, nil
}

// WaitingReply is the bot's answer while the session waits for an operator.
const WaitingReply = "상담 선생님께 연결하고 있어요. 조금만 기다려 주세요. 기다리시는 동안에도 하고 싶은 말씀은 언제든 남겨 주세요. " +
	"(Connecting you to a counsellor; please wait.)"

// FallbackNotice marks a reply that came from the built-in responder because
// the configured one failed.
const FallbackNotice = "degraded"

// BusyReply answers when every generation slot is taken.
const BusyReply = "지금 대화가 많아 답변이 조금 늦어지고 있어요. 잠시 후 다시 말씀해 주세요. (We are busy; please try again shortly.)"
