package emotion

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadLabelledTSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Example
		wantErr string
	}{
		{
			name: "korean english digit",
			in:   "text\tlabel\n너무 슬퍼\t슬픔\nso happy\tjoy\r\n\n짜증나\t3\n",
			want: []Example{{"너무 슬퍼", Sadness}, {"so happy", Joy}, {"짜증나", Anger}},
		},
		{name: "header only", in: "text\tlabel\n", want: nil},
		{name: "bom header", in: "\ufefftext\tlabel\n그냥\t무감정\n", want: []Example{{"그냥", Neutral}}},
		{name: "empty", in: "", wantErr: "empty file"},
		{name: "bad header", in: "id\ttext\tlabel\n", wantErr: "line 1"},
		{name: "no tab", in: "text\tlabel\n슬퍼요\n", wantErr: "line 2: no tab"},
		{name: "three columns", in: "text\tlabel\na\tb\tjoy\n", wantErr: "line 2: 3 columns"},
		{name: "unknown label", in: "text\tlabel\nok\tjoy\nhm\tfear\n", wantErr: "line 3"},
		{name: "empty text", in: "text\tlabel\n \tjoy\n", wantErr: "line 2: empty text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLabelledTSV(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d examples, want %d: %v", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestReadLabelledTSVErrorKinds(t *testing.T) {
	_, err := ReadLabelledTSV(strings.NewReader("text\tlabel\nx\tfear\n"))
	if !errors.Is(err, ErrUnknownLabel) {
		t.Errorf("unknown label: err = %v, want ErrUnknownLabel", err)
	}
	_, err = ReadLabelledTSV(strings.NewReader("bad\n"))
	if !errors.Is(err, ErrBadTSV) {
		t.Errorf("bad header: err = %v, want ErrBadTSV", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	in := []Example{{"a\tb\nc", Joy}, {"슬퍼", Sadness}, {"음", Neutral}, {"화나", Anger}}
	var buf bytes.Buffer
	if err := WriteLabelledTSV(&buf, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLabelledTSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) || got[0].Text != "a b c" || got[1] != in[1] || got[3] != in[3] {
		t.Errorf("round trip = %+v", got)
	}
	if err := WriteLabelledTSV(&buf, []Example{{"x", Label(9)}}); !errors.Is(err, ErrUnknownLabel) {
		t.Errorf("invalid label: err = %v", err)
	}
}

func TestReadKOTE(t *testing.T) {
	got, err := ReadKOTE(strings.NewReader("1\t좋다\t42,40\n2\t음\t24\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "1" || len(got[0].Labels) != 2 || got[1].Labels[0] != 24 {
		t.Errorf("got %+v", got)
	}
	for _, bad := range []string{"1\tx\n", "1\tx\t44\n", "1\tx\ta\n"} {
		if _, err := ReadKOTE(strings.NewReader(bad)); !errors.Is(err, ErrBadTSV) {
			t.Errorf("ReadKOTE(%q) err = %v, want ErrBadTSV", bad, err)
		}
	}
}

func TestKOTEClass(t *testing.T) {
	tests := []struct {
		name   string
		labels []int
		want   Label
		ok     bool
	}{
		{"none only", []int{24}, Neutral, true},
		{"none with one related", []int{24, 28}, Neutral, true},
		{"none with core label", []int{24, 42, 40}, Joy, true},
		{"joy core", []int{42, 40}, Joy, true},
		{"sad margin too small", []int{5, 6, 0}, 0, false},
		{"anger", []int{6, 22, 5}, 0, false},
		{"anger wins by 3", []int{6, 22, 31, 5}, Anger, true},
		{"below 3", []int{5}, 0, false},
		{"nothing", []int{7, 8}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := KOTEClass(tc.labels)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("KOTEClass(%v) = %v, %v; want %v, %v", tc.labels, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// koteDir is where the KOTE data lives in the development checkout; tests
// that need it skip when it is absent. The data is never copied into the repo.
func koteDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MOODGATE_KOTE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "kote")
	}
	if _, err := os.Stat(filepath.Join(dir, "val-4class.tsv")); err != nil {
		t.Skipf("KOTE data not found in %s (set MOODGATE_KOTE_DIR)", dir)
	}
	return dir
}

// TestKOTEClassMatchesPublishedMapping checks that our implementation of the
// README's rule reproduces val-4class.tsv exactly from val.tsv.
func TestKOTEClassMatchesPublishedMapping(t *testing.T) {
	dir := koteDir(t)
	f4, err := os.Open(filepath.Join(dir, "val-4class.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f4.Close()
	four, err := ReadLabelledTSV(f4)
	if err != nil {
		t.Fatal(err)
	}
	f44, err := os.Open(filepath.Join(dir, "val.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f44.Close()
	all, err := ReadKOTE(f44)
	if err != nil {
		t.Fatal(err)
	}
	var mapped []Example
	for _, e := range all {
		if l, ok := KOTEClass(e.Labels); ok {
			mapped = append(mapped, Example{e.Text, l})
		}
	}
	if len(mapped) != len(four) {
		t.Fatalf("rule maps %d comments, file has %d", len(mapped), len(four))
	}
	for i := range four {
		m, f := mapped[i], four[i]
		m.Text, f.Text = strings.TrimSpace(m.Text), strings.TrimSpace(f.Text)
		if m != f {
			t.Fatalf("row %d: rule gives %+v, file has %+v", i, mapped[i], four[i])
		}
	}
}

// TestLoadKOTENoLeak checks that no soft example repeats a 4-class comment,
// so cross-validation over the 4-class file never scores a comment that was
// in its training set through val.tsv.
func TestLoadKOTENoLeak(t *testing.T) {
	d, err := LoadKOTE(koteDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 3372 || len(d.Extra) == 0 {
		t.Fatalf("%d examples, %d soft", len(d.Examples), len(d.Extra))
	}
	seen := map[string]bool{}
	for _, e := range d.Examples {
		seen[normKey(e.Text)] = true
	}
	for _, e := range d.Extra {
		if seen[normKey(e.Text)] {
			t.Fatalf("soft example repeats a labelled comment: %q", e.Text)
		}
		sum := 0.0
		for _, p := range e.Target {
			sum += p
		}
		if !near(sum, 1) {
			t.Fatalf("soft target %v does not sum to 1", e.Target)
		}
	}
	if len(d.Ambiguous) != 5000-3372 || len(d.Labels44) != 5000 {
		t.Errorf("%d ambiguous comments, %d with 44 labels", len(d.Ambiguous), len(d.Labels44))
	}
	for _, text := range d.Ambiguous {
		if seen[normKey(text)] {
			t.Fatalf("auxiliary-only comment repeats a labelled comment: %q", text)
		}
	}
	// And SoftKOTE really excludes: feed it a labelled comment as ambiguous.
	fake := []KOTEExample{{ID: "x", Text: " " + d.Examples[0].Text + " ", Labels: []int{5, 6, 0}}}
	if got := SoftKOTE(fake, d.Examples); len(got) != 0 {
		t.Errorf("SoftKOTE kept a comment that is in the exclusion list")
	}
}
