package emotion

import (
	"bytes"
	"regexp"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The crisis screen flags messages that talk about suicide, self-harm, a plan
// or the means to one. It is a fixed list of Korean and English patterns, run
// on every message regardless of the classifier, and it is tuned for recall:
// a false alarm costs a gentle message, a miss may cost a life. Hyperbole
// ("배고파 죽겠다", "자살골") is masked out first.
//
// Korean rules run on the compact form of the text (lower case, spaces,
// punctuation and digits removed, runs cut to two), so "죽 고 싶 어",
// "죽고싶어어어" and "죽고 싶다" look alike. English rules run on the spaced
// form (words separated by one space) with word boundaries.

// crisisRule is one named pattern, run on the compact form (or the spaced
// form when spaced is set). A short word such as 자살 also needs wordStart
// to match the spaced form, where it must be written in one piece and not
// inside a look-alike word: the compact form finds it across words ("혼자
// 살 생각" → "혼자살생각") and inside others ("투자해서" holds 자해). A rule name may appear more than once. A rule
// is tried only when the text contains one of its anchors, so most messages
// cost a few byte searches.
type crisisRule struct {
	name      string
	spaced    bool
	anchors   []string
	re        *regexp.Regexp
	wordStart *regexp.Regexp
}

var crisisRules = []crisisRule{
	{name: "want_to_die", anchors: []string{"죽"}, re: regexp.MustCompile(
		`죽고싶|죽고시퍼|죽고만싶|죽어버리고싶|죽어버릴까|죽어버릴거|죽어야겠|죽을까생각|죽는게나|죽는게낫|죽으면편|(내가|나|난)죽었으면|차라리죽|같이죽자|죽을방법|죽는방법`)},
	{name: "suicide", anchors: []string{"극단", "목숨", "생을"}, re: regexp.MustCompile(
		`극단적인?선택|목숨을?끊|스스로목숨|생을마감`)},
	{name: "suicide", anchors: []string{"자살"}, re: regexp.MustCompile(`자살`), wordStart: regexp.MustCompile(`(^|[^혼])자살`)},
	{name: "disappear", anchors: []string{"사라", "없어", "없으면", "없는", "증발"}, re: regexp.MustCompile(
		`사라지고싶|사라져버리고싶|사라져버릴|없어지고싶|없어져버리고싶|내가없어지면|내가사라지면|내가없으면.{0,10}(편하|편할|편해|행복|나아|나을)|내가없는게나|증발하고싶`)},
	{name: "not_want_to_live", anchors: []string{"살", "사는", "태어나"}, re: regexp.MustCompile(
		`살기싫|살기가싫|살고싶지않|살고싶지가않|사는게싫|살아서뭐해|살아서뭐하|살아야할이유|살아갈이유|살이유가없|사는게의미없|사는의미가없|그만살고싶|태어나지말았|태어나지않았으면`)},
	{name: "end_it_all", anchors: []string{"끝내", "끝났으면", "떠나", "잠들", "깨어나", "떴으면", "안뜨", "뜨지"}, re: regexp.MustCompile(
		`다끝내고싶|다끝내버리고싶|모든걸끝내|모든것을끝내|인생을?끝내|삶을끝내|그만끝내고싶|모든게끝났으면|모든것이끝났으면|세상을떠나고싶|이세상을떠나|영원히잠들|잠들어서깨어나지|깨어나지않았으면|눈을?안떴으면|눈을?안뜨면좋|눈을?뜨지않았으면`)},
	{name: "self_harm", anchors: []string{"자해"}, re: regexp.MustCompile(`자해`), wordStart: regexp.MustCompile(`(^|[^혼투보가하써])자해`)},
	{name: "self_harm", anchors: []string{"손목", "긋", "그었", "그어", "해치", "상처"}, re: regexp.MustCompile(
		`손목을?긋|손목을?그[었어을으]|칼로.{0,12}(긋|그었|그어)|몸에상처를?(내|냈)|나를해치|스스로를?해치|나자신을해치`)},
	{name: "plan_means", anchors: []string{"유서", "약", "옥상", "뛰어", "목", "번개탄", "투신", "한강", "농약", "수면제"}, re: regexp.MustCompile(
		`유서|약을?(모아|모으|모았|모을)|수면제.{0,15}(모아|모으|모았|털어|한꺼번에|왕창|다먹|통째)|약을?한꺼번에|약을?(한통|통째|전부)|약을?다털어|옥상에서뛰|옥상에올라가서뛰|뛰어내리고싶|뛰어내릴까|뛰어내릴거|목을?매[달고서어았려]|목을?맬|목매달|번개탄|투신(하|할|했|자살)|한강에?(뛰어|들어가|투신)|다리에서뛰|농약을?(마시|먹)`)},
	{name: "plan_means", anchors: []string{"투신"}, re: regexp.MustCompile(`투신`), wordStart: regexp.MustCompile(`(^|[^전])투신`)},
	{name: "english", spaced: true, anchors: []string{"kill", "kms", "suicid", "die", "dead", "harm", "cut", "end", "hurt", "live", "overdose", "hang"}, re: regexp.MustCompile(
		`\b(kill(ing)? my ?self|kms|suicid(e|al)|(want|wanted|wants) to die|wanna die|wish i (was|were) dead|better off dead|self ?harm(ing)?|cut(ting)? myself|end(ing)? (it all|my life)|hurt(ing)? myself|(don't|do not|dont) want to (live|be alive|exist)|no reason to live|overdose|hang myself)\b`)},
}

// crisisMasks are look-alike phrases blanked out before the rules run:
// hyperbole, idioms and proper names that contain a rule's words.
var crisisMasks = []struct {
	spaced bool
	anchor string
	re     *regexp.Regexp
}{
	{anchor: "자살", re: regexp.MustCompile(`자살골|자살특공|자살예방|자살방지`)},
	{anchor: "자해", re: regexp.MustCompile(`자해공갈|혼자해`)},
	{anchor: "한강", re: regexp.MustCompile(`한강에?들어가(진|지)(는)?않`)},
	{anchor: "유서", re: regexp.MustCompile(`유서가?깊|유서있는`)},
	{anchor: "목", re: regexp.MustCompile(`(돈|성적|점수|일|회사|사랑|남자|여자|남친|여친|결과|순위|외모|학벌|스펙|시험|대학|승진|인기|조회수|좋아요)(에|에게)목을?매`)},
	{anchor: "끝내", re: regexp.MustCompile(`(숙제|과제|시험|공부|업무|일|빨래|청소|설거지|작업|프로젝트|보고서|정리|게임|회의|야근|알바|방학숙제|이거|이것|저거)(을|를|은|는|이|가|도)?(빨리|얼른|오늘|내일|이번주|주말전에|오늘안에|후딱)*다?끝내(고싶|버리고싶)`)},
	{anchor: "떠나", re: regexp.MustCompile(`세상을떠나(셨|신|시|셔)|세상을떠났`)},
	{spaced: true, anchor: "suicid", re: regexp.MustCompile(`\bsuicide squad\b`)},
	{spaced: true, anchor: "kill", re: regexp.MustCompile(`\bkill(ing)? myself (laughing|with laughter)\b`)},
}

// crisisScratch holds the two normalised forms of one message.
type crisisScratch struct{ compact, spaced []byte }

var crisisPool = sync.Pool{New: func() any {
	return &crisisScratch{compact: make([]byte, 0, 512), spaced: make([]byte, 0, 512)}
}}

// ScreenCrisis reports whether text matches a crisis rule, and which one
// ("want_to_die", "suicide", "disappear", "not_want_to_live", "end_it_all",
// "self_harm", "plan_means", "english"). It is safe for concurrent use and
// does not allocate for text that contains none of the rules' anchors.
func ScreenCrisis(text string) (matched bool, rule string) {
	sc := crisisPool.Get().(*crisisScratch)
	defer func() {
		if cap(sc.compact) <= 1<<16 {
			crisisPool.Put(sc)
		}
	}()
	sc.compact, sc.spaced = crisisForms(sc.compact[:0], sc.spaced[:0], text)
	for _, m := range crisisMasks {
		buf := sc.compact
		if m.spaced {
			buf = sc.spaced
		}
		if bytes.Contains(buf, []byte(m.anchor)) {
			maskAll(buf, m.re)
		}
	}
	for i := range crisisRules {
		r := &crisisRules[i]
		buf := sc.compact
		if r.spaced {
			buf = sc.spaced
		}
		if !containsAny(buf, r.anchors) {
			continue
		}
		if r.re.Match(buf) && (r.wordStart == nil || r.wordStart.Match(sc.spaced)) {
			return true, r.name
		}
	}
	return false, ""
}

func containsAny(b []byte, anchors []string) bool {
	for _, a := range anchors {
		if bytes.Contains(b, []byte(a)) {
			return true
		}
	}
	return false
}

// maskAll overwrites every match of re in b with '_' (same length, so the
// rest of b keeps its offsets).
func maskAll(b []byte, re *regexp.Regexp) {
	for _, loc := range re.FindAllIndex(b, -1) {
		for i := loc[0]; i < loc[1]; i++ {
			b[i] = '_'
		}
	}
}

// crisisForms appends the compact and spaced forms of text. Both are lower
// case with any character repeated more than twice cut to two. compact keeps
// only letters; spaced keeps letters, digits and apostrophes, with one space
// between words.
func crisisForms(compact, spaced []byte, text string) ([]byte, []byte) {
	var prev rune = -1
	run := 0
	for _, r := range text {
		r = unicode.ToLower(r)
		if r == '’' {
			r = '\''
		}
		if r == prev {
			run++
		} else {
			prev, run = r, 1
		}
		if run > 2 {
			continue
		}
		switch {
		case unicode.IsLetter(r):
			compact = utf8.AppendRune(compact, r)
			spaced = utf8.AppendRune(spaced, r)
		case unicode.IsDigit(r) || r == '\'':
			spaced = utf8.AppendRune(spaced, r)
		default:
			if n := len(spaced); n > 0 && spaced[n-1] != ' ' {
				spaced = append(spaced, ' ')
			}
		}
	}
	return compact, spaced
}

// CrisisReply is the message sent to a user whose message matched the
// crisis screen: Korean first, then English, with the Korean crisis lines.
func CrisisReply() string { return crisisReply }

const crisisReply = `지금 많이 힘드신 것 같아요. 혼자 견디지 않으셔도 괜찮아요.
지금 바로 이야기할 수 있는 곳이 있어요:
• 자살예방상담전화 109 (24시간, 무료)
• 마들랜: 문자 109 또는 카카오톡 '마들랜' 채널
• 정신건강 위기상담 1577-0199 (24시간)
• 지금 위험한 상황이라면 112 또는 119에 바로 연락하세요.

It sounds like you are going through something very hard, and you don't have to face it alone.
In Korea you can talk to someone right now:
• Suicide prevention line 109 (24 hours, free)
• Madeullaen: text 109 or KakaoTalk channel '마들랜'
• Mental health crisis line 1577-0199 (24 hours)
• If you are in immediate danger, call 112 or 119.`
