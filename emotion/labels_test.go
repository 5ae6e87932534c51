package emotion

import (
	"encoding/json"
	"testing"
)

func TestScoresJSON(t *testing.T) {
	s := Scores{0.1, 0.2, 0.3, 0.4}
	b, err := json.Marshal(struct{ S Scores }{s})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"S":{"neutral":0.1,"sadness":0.2,"joy":0.3,"anger":0.4}}` {
		t.Fatalf("got %s", b)
	}
	var back struct{ S Scores }
	if err := json.Unmarshal(b, &back); err != nil || back.S != s {
		t.Fatalf("round trip: %v %v", back.S, err)
	}
	if err := json.Unmarshal([]byte(`{"S":{"gloom":1}}`), &back); err == nil {
		t.Fatal("unknown label accepted")
	}
}

func TestParseLabel(t *testing.T) {
	for in, want := range map[string]Label{"neutral": Neutral, "슬픔": Sadness, "2": Joy, " Anger ": Anger, "무감정": Neutral} {
		if got, err := ParseLabel(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "4", "happy", "-1"} {
		if _, err := ParseLabel(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
