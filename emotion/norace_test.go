//go:build !race

package emotion

const raceEnabled = false
