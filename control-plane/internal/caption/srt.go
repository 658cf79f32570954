package caption

import (
	"bufio"
	"fmt"
	"strconv"
)

func writeSRT(w *bufio.Writer, cues []Cue) {
	for i, c := range cues {
		w.WriteString(strconv.Itoa(i + 1))
		w.WriteByte('\n')
		w.WriteString(formatTime(toMS(c.Start), ','))
		w.WriteString(" --> ")
		w.WriteString(formatTime(toMS(c.End), ','))
		w.WriteByte('\n')
		w.WriteString(c.Text)
		w.WriteString("\n\n")
	}
}

// formatTime writes ms as HH:MM:SS<sep>mmm (more hour digits if needed).
func formatTime(ms int64, sep byte) string {
	h := ms / 3_600_000
	m := ms / 60_000 % 60
	s := ms / 1000 % 60
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", h, m, s, sep, ms%1000)
}
