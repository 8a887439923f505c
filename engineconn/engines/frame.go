package engines

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// The python driver's framing, driver to engine: a header line
// "KIND LENGTH\n" then exactly LENGTH bytes of payload. KIND is READY,
// OUT, ERR, EXC, END or PRG (progress, a float from 0 to 1); the payload
// of EXC and END starts with the task's sync token and a space. Length
// prefixes (not sentinels) make it immune to whatever the user's code
// prints. Engine to driver: "LENGTH\n" then a JSON object {"id": ...,
// "code": ..., "sync": ...}.

const (
	maxFramePayload = 16 << 20
	maxFrameHeader  = 32
)

// frame is one message from the driver.
type frame struct {
	kind    string
	payload []byte
}

// readFrame reads one frame, refusing unknown kinds, bad lengths and
// payloads over maxFramePayload.
func readFrame(r *bufio.Reader) (frame, error) {
	hdr, err := r.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull || len(hdr) > maxFrameHeader {
			return frame{}, fmt.Errorf("python driver: frame header longer than %d bytes", maxFrameHeader)
		}
		if err == io.EOF && len(hdr) > 0 {
			return frame{}, io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	if len(hdr) > maxFrameHeader {
		return frame{}, fmt.Errorf("python driver: frame header longer than %d bytes", maxFrameHeader)
	}
	kind, num, ok := bytes.Cut(bytes.TrimSuffix(hdr, []byte("\n")), []byte(" "))
	if !ok {
		return frame{}, fmt.Errorf("python driver: bad frame header %q", hdr)
	}
	switch string(kind) {
	case "READY", "OUT", "ERR", "EXC", "END", "PRG":
	default:
		return frame{}, fmt.Errorf("python driver: unknown frame kind %q", kind)
	}
	n, err := strconv.Atoi(string(num))
	if err != nil || n < 0 || n > maxFramePayload || (len(num) > 1 && num[0] == '0') {
		return frame{}, fmt.Errorf("python driver: bad frame length %q", num)
	}
	// Read as the bytes come rather than allocating what the header
	// claims: a lying header costs what was really sent.
	payload, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return frame{}, err
	}
	if len(payload) != n {
		return frame{}, io.ErrUnexpectedEOF
	}
	return frame{kind: string(kind), payload: payload}, nil
}
