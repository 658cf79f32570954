// Package e2e holds the end-to-end tests: they build (or take from
// $YTCAPTION_BIN) the real ytcaption and ytcaption-agent binaries, start them
// as separate processes against the real test services, feed them speech
// made on the spot, and check the captions that come back. The package has
// no code of its own; everything is in its _test.go files.
package e2e
