package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// phaseBar shows the progress of long work made of phases (importing,
// scanning): a bar on a terminal, a line every few seconds otherwise.
type phaseBar struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	phase string
	last  time.Time
}

func newPhaseBar(w io.Writer) *phaseBar {
	b := &phaseBar{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b.tty = true
	}
	return b
}

// set reports that phase has done of total units.
func (b *phaseBar) set(phase string, done, total int) {
	if !b.tty {
		if phase != b.phase || done == total || time.Since(b.last) >= 2*time.Second {
			b.phase, b.last = phase, time.Now()
			fmt.Fprintf(b.w, "%s: %d of %d\n", phase, done, total)
		}
		return
	}
	if phase != b.phase || b.bar == nil {
		b.done()
		b.phase = phase
		b.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(phase),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	b.bar.Set(done)
}

func (b *phaseBar) done() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
}
