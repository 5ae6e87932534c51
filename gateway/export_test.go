package gateway

// SetCatchUpPageHook makes every dashboard catch-up call f after each page
// it sends, until the returned function is called.
func SetCatchUpPageHook(f func()) (restore func()) {
	catchUpPageHook.Store(&f)
	return func() { catchUpPageHook.Store(nil) }
}
