package web_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/moodgate/moodgate/web"
)

func TestStaticHasPages(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"index.html", "operator.html", "chat.js", "operator.js", "common.js", "chart.js", "style.css", "operator.css"} {
		b, err := fs.ReadFile(web.Static(), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
}

// Every /static/ reference of a page must name a file that is embedded, so
// the gateway never answers a page's script or style with 404.
func TestStaticReferencesResolve(t *testing.T) {
	t.Parallel()
	ref := regexp.MustCompile(`(?:src|href)="/static/([^"]+)"`)
	imp := regexp.MustCompile(`from '\./([^']+)'`)
	files, err := fs.Glob(web.Static(), "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(web.Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		var refs [][]string
		switch {
		case strings.HasSuffix(name, ".html"):
			refs = ref.FindAllStringSubmatch(string(b), -1)
			if len(refs) == 0 {
				t.Errorf("%s loads nothing from /static/", name)
			}
		case strings.HasSuffix(name, ".js"):
			refs = imp.FindAllStringSubmatch(string(b), -1)
		}
		for _, m := range refs {
			if _, err := fs.Stat(web.Static(), m[1]); err != nil {
				t.Errorf("%s refers to %s, which is not embedded", name, m[1])
			}
		}
	}
}

// The pages insert text with textContent only. A sink that parses HTML in
// any script is a review failure waiting to happen, so it fails here.
func TestScriptsHaveNoHTMLSinks(t *testing.T) {
	t.Parallel()
	sinks := regexp.MustCompile(`\.innerHTML\b|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment|DOMParser`)
	files, err := fs.Glob(web.Static(), "*.js")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts embedded")
	}
	for _, name := range files {
		b, err := fs.ReadFile(web.Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if sinks.MatchString(line) {
				t.Errorf("%s:%d uses an HTML sink: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// Inline scripts and inline event handlers would need a weaker
// Content-Security-Policy; the pages have neither.
func TestPagesHaveNoInlineScript(t *testing.T) {
	t.Parallel()
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=`)
	for _, name := range []string{"index.html", "operator.html"} {
		b, err := fs.ReadFile(web.Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		if m := inline.FindString(string(b)); m != "" {
			t.Errorf("%s has inline script or handler: %q", name, m)
		}
	}
}
