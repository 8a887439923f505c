package ecm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/manager"
)

// An engine's process and its output log, for an operator (Linkis's
// openEngineLog): served like the rest of the host data, for the
// retention after the engine ended - so the output of an engine that
// failed to start can be read after its failure.

// EngineProcess returns where engine ec's process stands.
func (m *ECM) EngineProcess(ec string) (api.EngineProcess, error) {
	if _, err := m.hosted(ec); err != nil {
		return api.EngineProcess{}, err
	}
	id, _ := manager.ParseECID(ec) // hosted checked it
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.engines[id.String()]
	p := api.EngineProcess{EC: e.ticket, PID: e.pid, LogPath: filepath.Join(e.logs, LogFile)}
	switch e.state {
	case stateStarting:
		p.State = api.ECStarting
	case stateRunning:
		p.State, p.Addr = api.ECRunning, e.addr
	default:
		p.State, p.Failed, p.Retryable, p.Reason = api.ECExited, e.failed, e.retryable, e.reason
		p.Ended = e.endedAt.UnixMilli()
	}
	if !e.since.IsZero() {
		p.Launched = e.since.UnixMilli()
	}
	return p, nil
}

// EngineLog returns lines [from, from+size) of engine ec's output log,
// opened through an os.Root of its logs directory (the directory is the
// engine user's: a link planted there is refused, see OpenUserFile).
func (m *ECM) EngineLog(ec string, from, size int) (api.EngineLogPage, error) {
	if err := api.CheckPage(from, size, api.MaxLogPageSize); err != nil {
		return api.EngineLogPage{}, err
	}
	h, err := m.hosted(ec)
	if err != nil {
		return api.EngineLogPage{}, err
	}
	page := api.EngineLogPage{EC: h.ec, Path: filepath.Join(h.logs, LogFile), From: from, Next: from, Lines: []string{}, Complete: h.exited}
	root, err := os.OpenRoot(h.logs)
	if errors.Is(err, fs.ErrNotExist) {
		return page, nil // it never got as far as writing anything
	}
	if err != nil {
		return page, fmt.Errorf("ecm: logs of %s: %w", h.ec, err)
	}
	defer root.Close()
	f, fi, err := engineconn.OpenUserFile(root, LogFile)
	if errors.Is(err, fs.ErrNotExist) {
		return page, nil
	}
	if err != nil {
		return page, err
	}
	defer f.Close()
	// The ECM writes at most LogCap bytes and its notes there (cappedLog);
	// the file is the user's, who may have made it longer: no more is read.
	bound := m.cfg.LogCap + logNotesBytes
	err = readLogPage(bufio.NewReaderSize(io.LimitReader(f, bound), 64<<10), &page, size)
	page.Truncated = page.Truncated || fi.Size() > bound && !page.More
	return page, err
}

// logNotesBytes bounds what cappedLog writes past its cap (its notes).
const logNotesBytes = 4 << 10

// readLogPage reads lines [p.From, p.From+size) of r into p, up to
// MaxLogPageBytes, and whether more follow. The last line of a log that
// still grows is left out until its end is written.
func readLogPage(r *bufio.Reader, p *api.EngineLogPage, size int) error {
	bytes := 0
	for n := 0; ; n++ {
		keep := n >= p.From
		line, whole, cut, err := readLine(r, keep)
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("ecm: reading the log of %s: %w", p.EC, err)
		case !keep:
			continue
		case !whole && !p.Complete:
			return nil
		case len(p.Lines) == size || len(p.Lines) > 0 && bytes+len(line) > api.MaxLogPageBytes:
			p.More = true
			return nil
		}
		p.Lines = append(p.Lines, line)
		p.Truncated = p.Truncated || cut
		bytes += len(line)
		p.Next = n + 1
	}
}

// readLine reads one line, without its end: whole says the end was there,
// cut that more than MaxLogLineBytes were dropped. Unless keep, nothing is
// kept. io.EOF comes only when nothing was left to read. Invalid UTF-8 is
// replaced.
func readLine(r *bufio.Reader, keep bool) (line string, whole, cut bool, err error) {
	var b []byte
	n := 0
	for {
		frag, err := r.ReadSlice('\n')
		n += len(frag)
		if keep && len(b) < api.MaxLogLineBytes {
			b = append(b, frag[:min(len(frag), api.MaxLogLineBytes-len(b))]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil && (err != io.EOF || n == 0):
			return "", false, false, err
		}
		whole = err == nil
		cut = keep && n > len(b)
		return strings.ToValidUTF8(strings.TrimRight(string(b), "\r\n"), "\uFFFD"), whole, cut, nil
	}
}

// engineRoutes adds the engine's process and log to the host-data API.
func (m *ECM) engineRoutes(mux *http.ServeMux) {
	base := "GET " + api.PathECMEngines + "/{ec}"
	mux.HandleFunc(base, func(w http.ResponseWriter, r *http.Request) {
		p, err := m.EngineProcess(r.PathValue("ec"))
		reply(w, p, err)
	})
	mux.HandleFunc(base+"/log", func(w http.ResponseWriter, r *http.Request) {
		from, size, err := pageQuery(r, api.MaxLogPageSize)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		p, err := m.EngineLog(r.PathValue("ec"), from, size)
		reply(w, p, err)
	})
}
