package web_test

// Helpers that know the two pages: the chat page and the operator dashboard.

import (
	"fmt"

	"github.com/chromedp/chromedp"
)

// ---- chat page helpers ---------------------------------------------------

type chat struct{ *tab }

func (c chat) open(base string) {
	c.t.Helper()
	c.do(chromedp.Navigate(base + "/"))
	c.waitOnline()
}

func (c chat) waitOnline() {
	c.t.Helper()
	c.waitFor("the chat to be online", `document.body.dataset.conn === 'online'`)
}

// send types text and submits it, and returns nothing: callers wait for what
// they expect.
func (c chat) send(text string) {
	c.t.Helper()
	c.do(
		chromedp.SendKeys(chromedp.CSS("#input"), text),
		chromedp.Click(chromedp.CSS("#send")),
	)
}

// acked waits until the user bubble with exactly this text has a seq and
// returns the seq.
func (c chat) acked(text string) int {
	c.t.Helper()
	expr := `[...document.querySelectorAll('#log .msg.user')].filter(b => b.querySelector('.text').textContent === ` + js(text) + `)`
	c.waitFor("the message "+text+" to be acknowledged", expr+`.length === 1`)
	var seq int
	c.mustEval(`Number(`+expr+`[0].dataset.seq)`, &seq)
	return seq
}

// botAnswered waits for a final bot reply after the user message seq.
func (c chat) botAnswered(after int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("a bot reply after seq %d", after),
		fmt.Sprintf(`[...document.querySelectorAll('#log .msg.bot')].some(b => Number(b.dataset.seq) > %d && b.querySelector('.text').textContent.trim() !== '')`, after))
}

func (c chat) sessionID() string {
	c.t.Helper()
	var id string
	c.mustEval(`JSON.parse(localStorage.getItem('moodgate.chat') || '{}').session || ''`, &id)
	if id == "" {
		c.t.Fatal("chat: no session id in localStorage")
	}
	return id
}

type bubbleCounts struct {
	User, Bot, Operator, Notices, Unique, MaxSeq int
}

func (c chat) counts() bubbleCounts {
	c.t.Helper()
	var bc bubbleCounts
	c.mustEval(`(() => {
		const all = [...document.querySelectorAll('#log > [data-seq]')];
		return {
			User: document.querySelectorAll('#log .msg.user, #pending .msg.user').length,
			Bot: document.querySelectorAll('#log .msg.bot, #pending .msg.bot').length,
			Operator: document.querySelectorAll('#log .msg.operator').length,
			Notices: document.querySelectorAll('#log .notice').length,
			Unique: new Set(all.map(e => e.dataset.seq)).size,
			MaxSeq: Math.max(0, ...all.map(e => Number(e.dataset.seq))),
		};
	})()`, &bc)
	return bc
}

// ---- operator page helpers -----------------------------------------------

type dashboard struct{ *tab }

func (d dashboard) signIn(base string) {
	d.t.Helper()
	d.do(
		chromedp.Navigate(base+"/operator"),
		chromedp.SendKeys(chromedp.CSS("#token"), operatorToken),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
	)
	d.waitFor("the dashboard after sign-in", shown("app")+` && document.getElementById('me').textContent.includes(`+js(operatorName)+`)`)
	d.waitFor("the live feed", `document.body.dataset.feed === 'online'`)
}

func (d dashboard) transcriptHas(text string, n int) {
	d.t.Helper()
	d.waitFor(fmt.Sprintf("%d transcript entries with text %q", n, text),
		`[...document.querySelectorAll('#d-transcript li.ev .text')].filter(p => p.textContent === `+js(text)+`).length === `+fmt.Sprint(n))
}
