package manager

import (
	"strconv"
	"unicode/utf8"
)

// fitSlack is what Fit leaves of MaxCommandSize for an update's fixed
// fields (reason, progress text, task, releases) and the strings' lengths.
const fitSlack = 64 << 10

// Fit returns the update cut to what the log takes, so that nothing a run
// heard - a 64 KiB output line, megabytes of output between checkpoints, a
// script of a thousand result sets, a long joined error - makes the state
// refuse the update that carries a job's end: every line clipped to
// MaxJobLineBytes, the reason and progress text to MaxReasonLen, the tail
// to its last tailLines lines, the results to MaxJobResults, and while the
// whole is over MaxCommandSize the oldest tail lines, then the middle of
// the orchestrator's own lines, then the last results are dropped. What
// was dropped, other than tail lines (the record keeps only the last ones
// anyway), is said in the job's log. The proposer calls it; the state
// still refuses what does not fit.
func (c UpdateJob) Fit(tailLines int) UpdateJob {
	c.Reason, c.ProgressInfo = clipBytes(c.Reason, MaxReasonLen), clipBytes(c.ProgressInfo, MaxReasonLen)
	c.Log, c.LogAfter = clipEach(last(c.Log, maxJobLines), MaxJobLineBytes), clipEach(last(c.LogAfter, maxJobLines), MaxJobLineBytes)
	c.Tail = clipEach(last(c.Tail, min(max(tailLines, 0), maxJobLines)), MaxJobLineBytes)
	var notes []string
	if n := len(c.Results); n > MaxJobResults {
		c.Results = c.Results[:MaxJobResults:MaxJobResults]
		notes = append(notes, "WARN the job made "+strconv.Itoa(n)+" result sets; the record keeps the first "+strconv.Itoa(MaxJobResults))
	}
	c.Results = clipEach(c.Results, MaxReasonLen)
	budget := MaxCommandSize - fitSlack
	size := linesSize(c.Log) + linesSize(c.LogAfter) + linesSize(c.Tail) + linesSize(c.Results)
	for len(c.Tail) > 0 && size > budget {
		size -= lineSize(c.Tail[0])
		c.Tail = c.Tail[1:]
	}
	if size > budget {
		var cut int
		c.Log, size, cut = cutMiddle(c.Log, size, budget)
		if size > budget {
			var more int
			c.LogAfter, size, more = cutMiddle(c.LogAfter, size, budget)
			cut += more
		}
		if cut > 0 {
			notes = append(notes, "WARN "+strconv.Itoa(cut)+" of the orchestrator's log lines were cut to fit the record")
		}
	}
	if size > budget {
		n := len(c.Results)
		for len(c.Results) > 0 && size > budget {
			size -= lineSize(c.Results[len(c.Results)-1])
			c.Results = c.Results[:len(c.Results)-1]
		}
		notes = append(notes, "WARN the record keeps "+strconv.Itoa(len(c.Results))+" of the job's "+strconv.Itoa(n)+" result sets: their names are too long")
	}
	if len(notes) > 0 {
		// After the task's part of the log when the update has one.
		if c.Task.Key != "" || c.TaskEnded != "" || len(c.LogAfter) > 0 {
			c.LogAfter = append(c.LogAfter[:len(c.LogAfter):len(c.LogAfter)], notes...)
		} else {
			c.Log = append(c.Log[:len(c.Log):len(c.Log)], notes...)
		}
	}
	return c
}

// cutMiddle drops lines from the middle of ls until size is within budget
// (or none is left), keeping the first and last ones.
func cutMiddle(ls []string, size, budget int) ([]string, int, int) {
	if len(ls) == 0 {
		return ls, size, 0
	}
	head, tail := ls[:(len(ls)+1)/2], ls[(len(ls)+1)/2:]
	cut := 0
	for size > budget && (len(head) > 0 || len(tail) > 0) {
		if len(tail) >= len(head) && len(tail) > 0 {
			size -= lineSize(tail[0])
			tail = tail[1:]
		} else {
			size -= lineSize(head[len(head)-1])
			head = head[:len(head)-1]
		}
		cut++
	}
	if cut == 0 {
		return ls, size, 0
	}
	return append(head[:len(head):len(head)], tail...), size, cut
}

// last returns the last n of ls.
func last(ls []string, n int) []string { return ls[max(len(ls)-n, 0):] }

// clipEach returns ls with each string clipped to n bytes (a copy when any
// changed).
func clipEach(ls []string, n int) []string {
	for i, l := range ls {
		if len(l) > n {
			out := append([]string(nil), ls...)
			for j := i; j < len(out); j++ {
				out[j] = clipBytes(out[j], n)
			}
			return out
		}
	}
	return ls
}

func lineSize(s string) int { return len(s) + 10 }

func linesSize(ls []string) int {
	n := 0
	for _, l := range ls {
		n += lineSize(l)
	}
	return n
}

// clipBytes cuts s to at most n bytes, at a character's start.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return s[:cut]
}
