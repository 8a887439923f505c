package entrance

// crash stops the writer without its last commit and closes the file, as
// if the process died (tests).
func (h *BoltHistory) crash() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	close(h.abort)
	<-h.done
	h.db.Close()
}

// crash abandons the entrance as if its process died: the history's
// writer stops without its last commit, then the running jobs are
// cancelled (what they report is lost).
func (e *Entrance) crash() {
	e.mu.Lock()
	e.closed = true
	close(e.closedCh)
	e.mu.Unlock()
	e.hist.(*BoltHistory).crash()
	e.cancel(errClosing)
	e.wg.Wait()
}
