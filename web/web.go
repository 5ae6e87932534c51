package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static returns the web UI rooted at static/: index.html (the chat page),
// operator.html (the operator dashboard) and the JavaScript modules and CSS
// they load from /static/. The files are plain HTML, CSS and ES modules; no
// build step produces them.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only on an invalid path; "static" is a constant.
		panic(err)
	}
	return sub
}
