package web_test

// Real-browser tests: Debian's headless Chromium, driven by chromedp, against
// a gateway that the test starts on a real redis-server. Every check reads
// the DOM and waits by polling; no test sleeps or measures wall-clock time.

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// ---- the scenario --------------------------------------------------------

// TestBrowserChatAndOperator walks one conversation through both pages: a
// crisis message escalates, an operator claims, replies and hands back, the
// bot answers again, HTML in a message stays text, the network drops and
// comes back, and a reload shows the transcript once.
func TestBrowserChatAndOperator(t *testing.T) {
	needChromium(t)
	base := startGateway(t, nil)
	userNet := newDropProxy(t, base)
	opNet := newDropProxy(t, base)
	browser := newBrowser(t)
	user := chat{newTab(t, browser, "chat", 390, 844, true)}
	op := dashboard{newTab(t, browser, "operator", 1366, 940, false)}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{}
	step := func(name string, run func(t *testing.T)) {
		steps = append(steps, struct {
			name string
			run  func(t *testing.T)
		}{name, run})
	}

	var sid string
	var lastUserSeq int

	step("operator signs in", func(t *testing.T) {
		op.signIn(opNet.URL())
		op.waitFor("an empty queue", "!"+shown("crisis-alert")+` && !`+shown("signin")+` && document.getElementById('queue-count').textContent === '0'`)
	})

	step("another person chats; the dashboard lists the session live", func(t *testing.T) {
		other := chat{newTab(t, browser, "other chat", 390, 844, true)}
		other.open(base)
		text := "오늘 날씨가 좋아서 산책했어요."
		other.send(text)
		other.botAnswered(other.acked(text))
		otherID := other.sessionID()
		op.waitFor("the other session in the list", `document.querySelector('#sessions .srow[data-id=`+js(otherID)+`]')`)
	})

	step("user chats with the bot", func(t *testing.T) {
		user.open(userNet.URL())
		var crisisShown bool
		user.mustEval(shown("crisis"), &crisisShown)
		if crisisShown {
			t.Fatalf("crisis panel visible before any crisis")
		}
		for _, text := range []string{"안녕하세요. 요즘 잠을 잘 못 자요.", "회사에서 계속 혼나서 너무 속상하고 화가 나요."} {
			user.send(text)
			seq := user.acked(text)
			user.botAnswered(seq)
			lastUserSeq = seq
		}
		sid = user.sessionID()
		if n := user.count("#log .label"); n != 0 {
			t.Errorf("emotion labels shown although show_labels is off: %d", n)
		}
	})

	step("crisis message shows resources to the user", func(t *testing.T) {
		user.send("죽고 싶어요")
		lastUserSeq = user.acked("죽고 싶어요")
		user.waitFor("the crisis panel with 109",
			shown("crisis")+` && document.getElementById('crisis-list').textContent.includes('109')`)
		user.waitFor("a crisis notice in the transcript", `document.querySelector('#log .notice.escalation-crisis')`)
		// Collapsing the panel keeps the numbers on screen.
		user.do(chromedp.Click(chromedp.CSS("#crisis-toggle")))
		user.waitFor("the compact crisis strip with 109",
			shown("crisis")+` && document.getElementById('crisis').classList.contains('compact') && [...document.querySelectorAll('#crisis-list .contact')].some(c => c.textContent.includes('109') && c.getClientRects().length > 0)`)
		user.do(chromedp.Click(chromedp.CSS("#crisis-toggle")))
		user.waitFor("the full crisis panel again", `!document.getElementById('crisis').classList.contains('compact')`)
	})

	step("crisis reaches the operator dashboard", func(t *testing.T) {
		op.waitFor("the red crisis badge with count 1",
			shown("crisis-alert")+` && document.getElementById('crisis-count').textContent === '1'`)
		op.waitFor("the crisis in the queue", `document.querySelector('#queue .qitem.sev-3[data-reason=crisis][data-id=`+js(sid)+`]')`)
		op.waitFor("the session first in the list with a crisis badge",
			`document.querySelector('#sessions .srow')?.dataset.id === `+js(sid)+` && document.querySelector('#sessions .srow .chip.reason-crisis')`)
		op.waitFor("a sparkline for the session", `document.querySelector('#sessions .srow[data-id=`+js(sid)+`] svg.spark .valence')`)
		op.do(chromedp.Click(chromedp.CSS(`#sessions .srow[data-id="` + sid + `"]`)))
		op.transcriptHas("죽고 싶어요", 1)
		op.waitFor("label and scores on the crisis message",
			`(() => { const li = [...document.querySelectorAll('#d-transcript li.ev.user')].find(l => l.querySelector('.text').textContent === '죽고 싶어요');
			  return li && li.querySelector('.label') && li.querySelectorAll('.scores .score').length === 4 && li.querySelector('.label-crisis'); })()`)
		op.waitFor("the mood chart with a valence line over three messages",
			`document.querySelector('#d-chart svg.mood-chart path.valence') && document.querySelectorAll('#d-chart svg.mood-chart circle.valence-dot').length >= 3`)
		op.screenshot("operator", false)
	})

	step("operator claims and replies", func(t *testing.T) {
		op.do(chromedp.Click(chromedp.CSS("#btn-claim")))
		op.waitFor("the claimed state", `document.getElementById('d-state').dataset.state === 'claimed' && document.getElementById('btn-claim').disabled`)
		op.waitFor("the crisis badge to clear once claimed", "!"+shown("crisis-alert"))
		user.waitFor("the operator-joined notice",
			`[...document.querySelectorAll('#log .notice[data-kind=operator-claimed]')].some(n => n.textContent.includes(`+js(operatorName)+`)) && `+shown("agent"))
		reply := "많이 힘드셨겠어요. 저는 상담사 김이에요. 지금 어디에 계세요?"
		op.do(
			chromedp.SendKeys(chromedp.CSS("#reply-input"), reply),
			chromedp.Click(chromedp.CSS("#reply-send")),
		)
		user.waitFor("the operator's reply", `[...document.querySelectorAll('#log .msg.operator .text')].some(p => p.textContent === `+js(reply)+`)`)
		op.transcriptHas(reply, 1)
		user.screenshot("chat", false)
	})

	step("HTML in a message stays text on both pages", func(t *testing.T) {
		user.send(xssText)
		lastUserSeq = user.acked(xssText)
		op.transcriptHas(xssText, 1)
		for _, tb := range []*tab{user.tab, op.tab} {
			if n := tb.count("img"); n != 0 {
				t.Errorf("%s: %d img elements on the page", tb.name, n)
			}
		}
	})

	step("operator hands back and the bot answers again", func(t *testing.T) {
		op.do(chromedp.Click(chromedp.CSS("#btn-resolve")))
		op.waitFor("the bot state", `document.getElementById('d-state').dataset.state === 'bot'`)
		user.waitFor("the bot-is-back notice", `document.querySelector('#log .notice[data-kind=operator-resolved]') && !`+shown("agent"))
		text := "고마워요. 이야기하니까 조금 나아졌어요."
		user.send(text)
		seq := user.acked(text)
		user.botAnswered(seq)
		lastUserSeq = seq
		op.transcriptHas(text, 1)
	})

	step("user's network drops; a message typed offline is sent once after reconnect", func(t *testing.T) {
		userNet.SetOffline(true)
		user.waitFor("the offline state", `document.body.dataset.conn === 'offline'`)
		text := "연결이 끊겼을 때 쓴 메시지예요."
		user.send(text)
		user.waitFor("the queued bubble", `[...document.querySelectorAll('#pending .msg.user.queued .text')].some(p => p.textContent === `+js(text)+`)`)
		userNet.SetOffline(false)
		user.waitOnline()
		seq := user.acked(text)
		user.botAnswered(seq)
		lastUserSeq = seq
		op.transcriptHas(text, 1)
	})

	step("operator's feed drops; missed events arrive once after reconnect", func(t *testing.T) {
		opNet.SetOffline(true)
		op.waitFor("the feed offline", `document.body.dataset.feed === 'offline'`)
		text := "상담사 화면이 끊긴 동안 보낸 메시지"
		user.send(text)
		seq := user.acked(text)
		user.botAnswered(seq)
		lastUserSeq = seq
		opNet.SetOffline(false)
		op.waitFor("the feed online", `document.body.dataset.feed === 'online'`)
		op.transcriptHas(text, 1)
		var dup int
		op.mustEval(`(() => { const s = [...document.querySelectorAll('#d-transcript li.ev')].map(l => l.dataset.seq); return s.length - new Set(s).size; })()`, &dup)
		if dup != 0 {
			t.Errorf("operator transcript has %d duplicated seqs", dup)
		}
	})

	step("reload resumes without duplicates", func(t *testing.T) {
		before := user.counts()
		if before.Unique == 0 || before.User < 6 || before.Operator != 1 {
			t.Fatalf("unexpected transcript before reload: %+v", before)
		}
		user.do(chromedp.Reload())
		user.waitOnline()
		user.waitFor("the transcript replayed up to the last seq",
			fmt.Sprintf(`document.querySelector('#log > [data-seq="%d"]')`, before.MaxSeq))
		after := user.counts()
		if after != before {
			t.Fatalf("transcript changed across reload:\nbefore %+v\nafter  %+v", before, after)
		}
		var pending int
		user.mustEval(`document.querySelectorAll('#pending > *').length`, &pending)
		if pending != 0 {
			t.Errorf("%d pending bubbles after reload", pending)
		}
		user.waitFor("the crisis panel after reload", shown("crisis")+` && document.getElementById('crisis-list').textContent.includes('109')`)
		user.waitFor("the literal HTML text after reload", `[...document.querySelectorAll('#log .msg.user .text')].some(p => p.textContent === `+js(xssText)+`)`)
		if n := user.count("img"); n != 0 {
			t.Errorf("chat: %d img elements after reload", n)
		}
	})

	step("operator erases the session after confirming", func(t *testing.T) {
		op.do(chromedp.Click(chromedp.CSS("#btn-erase")))
		op.waitFor("the confirm dialog", `document.getElementById('confirm').open`)
		op.do(chromedp.Click(chromedp.CSS(`#confirm [data-role=ok]`)))
		op.waitFor("the session gone from the list and the detail closed",
			`!document.querySelector('#sessions .srow[data-id=`+js(sid)+`]') && `+shown("detail-empty")+` && document.querySelectorAll('#sessions .srow').length === 1`)
	})

	step("no dialogs and no exceptions on either page", func(t *testing.T) {
		user.noDialogsOrExceptions()
		op.noDialogsOrExceptions()
	})

	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			user.t, op.t = t, t // helpers fail the step, not the parent
			s.run(t)
		})
		user.t, op.t = t, t
		if !ok {
			t.Logf("last user seq %d; stopping after failed step", lastUserSeq)
			return
		}
	}
}
