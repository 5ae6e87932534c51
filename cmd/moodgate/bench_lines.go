package main

import (
	"math/rand/v2"
)

// The bench's chat lines. They are written for the load tool and are not
// taken from the labelled data, so a run never measures the classifier on
// its own training set. The mood of a line is what a reader would say it is;
// the gateway's classifier may disagree, which is fine for load.
var (
	benchNeutral = []string{
		"오늘 점심은 뭐 먹을지 아직 못 정했어요.",
		"지금 버스 타고 집에 가는 중이에요.",
		"내일 아침 회의가 아홉 시에 있어요.",
		"주말에 빨래랑 청소를 좀 해야 할 것 같아요.",
		"요즘은 밤 열한 시쯤 자는 편이에요.",
		"커피를 하루에 두 잔 정도 마셔요.",
		"이번 달에는 책을 한 권 읽고 있어요.",
		"날씨가 흐려서 우산을 챙겼어요.",
		"동생이랑 저녁에 통화하기로 했어요.",
		"방금 회사에서 퇴근했어요.",
		"오늘은 그냥 평범한 하루였던 것 같아요.",
		"산책하다가 편의점에 잠깐 들렀어요.",
		"다음 주에 치과 예약이 있어요.",
		"요즘 운동은 일주일에 두 번 정도 해요.",
		"그냥 이야기할 사람이 필요해서 들어왔어요.",
		"지난번에 말한 일은 아직 그대로예요.",
	}
	benchJoy = []string{
		"드디어 시험에 합격했어요! 너무 기뻐요.",
		"오랜만에 친구들을 만나서 정말 즐거웠어요.",
		"오늘 회사에서 칭찬을 받아서 기분이 좋아요.",
		"강아지랑 공원에서 신나게 뛰어놀았어요.",
		"맛있는 케이크를 먹어서 행복해요.",
		"이번 여행 계획을 세우니까 설레요.",
		"가족들이랑 웃으면서 저녁을 먹었어요.",
		"오늘은 잠을 푹 자서 몸이 가벼워요.",
		"좋아하는 가수 콘서트 표를 구했어요!",
		"작은 목표였는데 해내서 뿌듯해요.",
		"날씨가 너무 좋아서 기분까지 상쾌해요.",
		"선물 받은 꽃이 예뻐서 자꾸 보게 돼요.",
	}
	benchSad = []string{
		"요즘 괜히 마음이 허전하고 쓸쓸해요.",
		"친구랑 멀어진 것 같아서 속상해요.",
		"시험을 망쳐서 많이 우울해요.",
		"혼자 있는 시간이 너무 길게 느껴져요.",
		"아무것도 하기 싫고 기운이 없어요.",
		"보고 싶은 사람이 있는데 연락을 못 하겠어요.",
	}
	benchAngry = []string{
		"팀장님이 또 제 탓을 해서 너무 화가 나요.",
		"약속을 세 번이나 어겨서 정말 짜증나요.",
		"택배가 또 분실됐대요. 어이가 없네요.",
		"옆집 공사 소리 때문에 미칠 것 같아요.",
		"왜 나만 이렇게 억울한 일을 당해야 해요?",
		"말도 없이 제 물건을 가져가서 열받아요.",
	}
	// benchCrisis lines escalate a session at once; they are sent only with
	// --crisis-share > 0.
	benchCrisis = []string{
		"이제 다 끝내고 싶어요. 죽고 싶다는 생각이 들어요.",
		"살아야 할 이유를 모르겠어요.",
		"자해하고 싶은 충동이 들어요.",
	}
)

// lineKind is the intended mood of a bench line.
type lineKind int

const (
	kindNeutral lineKind = iota
	kindJoy
	kindSad
	kindAngry
	kindCrisis
)

// lineGen draws one session's lines. The gateway escalates a session after
// three consecutive sad or angry messages and then waits for an operator, so
// by default a sad or angry line is always followed by at least two neutral
// or joyful ones: the session stays with the bot and the load stays steady.
// With crisisShare > 0 that share of lines are crisis lines, which escalate;
// the client then starts a new session.
type lineGen struct {
	rng         *rand.Rand
	negShare    float64
	crisisShare float64
	sinceNeg    int // lines since the last negative one
}

func newLineGen(seed uint64, negShare, crisisShare float64) *lineGen {
	return &lineGen{
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		negShare:    negShare,
		crisisShare: crisisShare,
		sinceNeg:    2,
	}
}

// next returns a line and its intended kind.
func (g *lineGen) next() (string, lineKind) {
	r := g.rng.Float64()
	switch {
	case r < g.crisisShare:
		g.sinceNeg = 0
		return pick(g.rng, benchCrisis), kindCrisis
	case r < g.crisisShare+g.negShare && g.sinceNeg >= 2:
		g.sinceNeg = 0
		if g.rng.IntN(2) == 0 {
			return pick(g.rng, benchSad), kindSad
		}
		return pick(g.rng, benchAngry), kindAngry
	}
	g.sinceNeg++
	if g.rng.IntN(5) < 3 {
		return pick(g.rng, benchNeutral), kindNeutral
	}
	return pick(g.rng, benchJoy), kindJoy
}

func pick(rng *rand.Rand, lines []string) string { return lines[rng.IntN(len(lines))] }
