package emotion

import (
	"strings"
	"testing"
)

// crisisTable is our own labelled table of phrasings, written for this test
// (not drawn from any data set): half express suicidal ideation, self-harm,
// a plan or the means, half are look-alikes (hyperbole, idioms, other
// topics) that must not raise the alarm.
var crisisTable = []struct {
	text   string
	crisis bool
}{
	// Crisis, explicit and indirect, with spacing and repetition variants.
	{"죽고 싶다", true},
	{"죽고싶다", true},
	{"죽 고 싶 어", true},
	{"진짜 죽고싶어ㅠㅠㅠㅠ", true},
	{"그냥 다 죽어버리고 싶어", true},
	{"차라리 죽는 게 나을 것 같아", true},
	{"죽고 시퍼", true},
	{"자살하고 싶어", true},
	{"요즘 자살 생각을 자주 해", true},
	{"사라지고 싶어", true},
	{"그냥 없어지고 싶다...", true},
	{"살기 싫어", true},
	{"더 이상 살고 싶지 않아", true},
	{"살아야 할 이유를 모르겠어", true},
	{"손목 긋고 싶어", true},
	{"어제 손목을 그었어", true},
	{"유서를 써놨어", true},
	{"약을 모아두고 있어", true},
	{"수면제를 몇 달째 모으고 있어", true},
	{"옥상에서 뛰어내리고 싶어", true},
	{"목을 매고 싶다", true},
	{"다 끝내고 싶어", true},
	{"이제 모든 걸 끝내고 싶어요", true},
	{"내가 없어지면 다들 편하겠지", true},
	{"내가 없으면 가족들이 더 편할거야", true},
	{"또 자해했어", true},
	{"나자해했어", true},
	{"나자살하고싶어", true},
	{"자살", true},
	{"자살 생각이 자꾸 나", true},
	{"번개탄 사러 가려고", true},
	{"태어나지 말았어야 했어", true},
	{"그냥 영원히 잠들고 싶다", true},
	{"극단적인 선택을 할까 생각 중이야", true},
	{"목숨을 끊고 싶어", true},
	{"한강에 뛰어들까", true},
	{"이 세상을 떠나서 편해지고 싶어", true},
	{"모든 게 끝났으면 좋겠어", true},
	{"내일 아침에 눈 안 떴으면 좋겠다", true},
	{"약 한 통 다 먹어버릴까", true},
	{"살고 싶지가 않아", true},
	{"I want to kill myself", true},
	{"been thinking about suicide a lot", true},
	{"i just want to die", true},
	{"I self-harm when it gets bad", true},
	{"thinking about ending my life", true},
	{"I don't want to live anymore", true},
	// Look-alikes: not crisis.
	{"배고파 죽겠다", false},
	{"웃겨 죽는 줄 ㅋㅋㅋ", false},
	{"어제 경기 자살골 실화냐", false},
	{"졸려 죽겠어", false},
	{"더워 죽겠네 진짜", false},
	{"이거 죽이는 맛이다", false},
	{"강아지 귀여워 죽겠다", false},
	{"힘들어 죽겠다 야근 ㅠㅠ", false},
	{"유서 깊은 절에 다녀왔어", false},
	{"할머니가 작년에 세상을 떠나셨어", false},
	{"숙제 빨리 다 끝내고 싶다", false},
	{"오늘 안에 보고서 다 끝내고 싶어", false},
	{"손목이 너무 아파", false},
	{"감기약 먹고 푹 잤어", false},
	{"옥상에서 고기 구워 먹자", false},
	{"목이 아파서 병원 갔어", false},
	{"성적에 목매지 마", false},
	{"주말에 한강 가서 치킨 먹자", false},
	{"내가 없으면 회사가 안 돌아가", false},
	{"지갑이 사라진 줄 알았어", false},
	{"살기 좋은 동네야", false},
	{"살 빼고 싶다", false},
	{"롤러코스터 타다가 죽을 뻔했어 ㅋㅋ", false},
	{"보고 싶어 죽겠어", false},
	{"자살 예방 캠페인 포스터를 만들었어", false},
	{"this workout is killing me lol", false},
	{"suicide squad was a fun movie", false},
	{"I want to diet before summer", false},
	{"I'm dying to see that show", false},
	{"I'd kill for a pizza right now", false},
	{"cut my hair myself today", false},
	{"self care sunday", false},
	{"시험 다 끝났으면 좋겠다", false},
	{"이제 끝낼게 오늘 작업은", false},
	{"할아버지가 작년에 세상을 떠났어", false},
	{"I'm going to die of boredom in this meeting", false},
	{"자해 공갈단 뉴스 봤어?", false},
	{"혼자살아서 밥을 잘 안 챙겨 먹어", false},
	{"내년엔 혼자 살 생각이야", false},
	{"혼자 살이 많이 빠졌네", false},
	{"주식 투자해서 돈 벌었대", false},
	{"친구가 같이 가자해서 따라갔어", false},
	{"그 영화 전투신이 진짜 멋있더라", false},
	// Look-alikes the screen does flag (honest false positives: talk about
	// suicide or self-harm that is not about the writer, or a rule's words
	// in another sense). They stay in the table so the rate is real.
	{"드라마에서 주인공이 자살하는 장면 너무 슬펐어", false},
	{"오늘 유통기한 지난 약 모아서 버렸어", false},
}

func TestCrisisTable(t *testing.T) {
	var tp, fn, fp, tn int
	for _, tc := range crisisTable {
		t.Run(tc.text, func(t *testing.T) {
			got, rule := ScreenCrisis(tc.text)
			switch {
			case tc.crisis && got:
				tp++
			case tc.crisis:
				fn++
				t.Errorf("missed crisis message %q", tc.text)
			case got:
				fp++
				t.Logf("look-alike %q flagged by rule %q", tc.text, rule)
			default:
				tn++
			}
			if got && rule == "" {
				t.Errorf("%q matched without naming a rule", tc.text)
			}
		})
	}
	if tp+fn < 30 || fp+tn < 30 {
		t.Fatalf("table has %d crisis and %d look-alike rows, want at least 30 of each", tp+fn, fp+tn)
	}
	recall := float64(tp) / float64(tp+fn)
	fpr := float64(fp) / float64(fp+tn)
	t.Logf("crisis table (ours, %d rows): recall %.3f (%d/%d), false-positive rate %.3f (%d/%d)",
		len(crisisTable), recall, tp, tp+fn, fpr, fp, fp+tn)
	if recall < 1 {
		t.Errorf("recall %.3f < 1.0", recall)
	}
	if fpr > 0.1 {
		t.Errorf("false-positive rate %.3f > 0.1", fpr)
	}
}

func TestCrisisRuleNames(t *testing.T) {
	tests := []struct{ text, rule string }{
		{"죽고싶다", "want_to_die"},
		{"자살", "suicide"},
		{"사라지고 싶어", "disappear"},
		{"살기 싫다", "not_want_to_live"},
		{"다 끝내고 싶다", "end_it_all"},
		{"자해", "self_harm"},
		{"유서 썼어", "plan_means"},
		{"kill myself", "english"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			if ok, rule := ScreenCrisis(tc.text); !ok || rule != tc.rule {
				t.Errorf("ScreenCrisis(%q) = %v %q, want true %q", tc.text, ok, rule, tc.rule)
			}
		})
	}
}

func TestCrisisForms(t *testing.T) {
	c, s := crisisForms(nil, nil, "죽  고,, 싶어어어어!! I'M  Sooo\tDONE 123")
	if got, want := string(c), "죽고싶어어imsoodone"; got != want {
		t.Errorf("compact = %q, want %q", got, want)
	}
	if got, want := string(s), "죽 고 싶어어 i'm soo done 123"; got != want {
		t.Errorf("spaced = %q, want %q", got, want)
	}
}

func TestCrisisReply(t *testing.T) {
	r := CrisisReply()
	for _, want := range []string{"109", "24시간", "마들랜", "카카오톡", "1577-0199", "112", "119"} {
		if !strings.Contains(r, want) {
			t.Errorf("reply lacks %q", want)
		}
	}
	if strings.Index(r, "자살예방상담전화") > strings.Index(r, "Suicide prevention") {
		t.Error("reply must be Korean first")
	}
}

func TestScreenCrisisNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	ScreenCrisis("warm up")
	n := testing.AllocsPerRun(100, func() { ScreenCrisis("오늘 점심은 맛있었고 날씨도 좋았다 ㅎㅎ") })
	if n != 0 {
		t.Errorf("ScreenCrisis allocates %v times per ordinary message", n)
	}
}

func FuzzScreenCrisis(f *testing.F) {
	for _, tc := range crisisTable {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok, rule := ScreenCrisis(s)
		if ok != (rule != "") {
			t.Errorf("ScreenCrisis(%q) = %v, %q", s, ok, rule)
		}
	})
}

func BenchmarkScreenCrisis(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ScreenCrisis(benchMessages[i%len(benchMessages)])
	}
}
