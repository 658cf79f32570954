package caption

import "bufio"

func writeVTT(w *bufio.Writer, cues []Cue) {
	w.WriteString("WEBVTT\n\n")
	for _, c := range cues {
		w.WriteString(formatTime(toMS(c.Start), '.'))
		w.WriteString(" --> ")
		w.WriteString(formatTime(toMS(c.End), '.'))
		w.WriteByte('\n')
		// Escaping "<" and ">" also keeps "-->" out of the payload.
		writeEscaped(w, c.Text)
		w.WriteString("\n\n")
	}
}

// writeEscaped writes s with the three characters WebVTT reserves in cue
// text escaped.
func writeEscaped(w *bufio.Writer, s string) {
	for _, r := range s {
		switch r {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		default:
			w.WriteRune(r)
		}
	}
}
