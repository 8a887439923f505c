package raftstore

import (
	"encoding/binary"
	"encoding/json"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// A log entry is a batch (group commit):
//
//	0x01 | epoch (8 bytes, LE) | seq (uvarint) | count (uvarint) | items
//	item = kind (1 byte) | length (uvarint) | body
//
// epoch and seq name the proposal: the member that proposed it (its epoch
// is drawn at random each time it opens) hands the outcomes to the waiting
// callers when it applies the entry, without waiting on Raft's futures.
// Item kinds: a manager command (manager's versioned codec), a member's
// addresses (JSON), a member's removal (its id), or a no-op (a read
// barrier). A kind this version does not know is skipped, as the
// commands' ignore bit is.
const entryBatch byte = 1

const (
	itemCommand      byte = 1
	itemMember       byte = 2 // api.Member: add or update
	itemMemberRemove byte = 3 // the member's id
	itemNoop         byte = 4
)

// maxEntryItems bounds the count a decoder believes.
const maxEntryItems = 1 << 16

// item is one decoded item of an entry.
type item struct {
	kind byte
	cmd  manager.Command // itemCommand
	body []byte          // the others
}

// appendEntry encodes a batch; scratch is reused to encode commands.
func appendEntry(b, scratch []byte, epoch, seq uint64, props []*proposal) ([]byte, []byte) {
	b = append(b, entryBatch)
	b = binary.LittleEndian.AppendUint64(b, epoch)
	b = binary.AppendUvarint(b, seq)
	b = binary.AppendUvarint(b, uint64(len(props)))
	for _, p := range props {
		body := p.body
		if p.kind == itemCommand {
			scratch = manager.AppendCommand(scratch[:0], p.cmd)
			body = scratch
		}
		b = append(b, p.kind)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	return b, scratch
}

// decodeEntry decodes an entry; when its items cannot be, the epoch and
// sequence number still come back (if its header could be read), so that
// the proposer can be told.
func decodeEntry(b []byte) (epoch, seq uint64, items []item, err error) {
	if len(b) < 9 || b[0] != entryBatch {
		return 0, 0, nil, linkis.Errorf(linkis.ErrMalformed, "entry", "not a batch entry")
	}
	epoch = binary.LittleEndian.Uint64(b[1:9])
	b = b[9:]
	seq, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, 0, nil, linkis.Errorf(linkis.ErrMalformed, "entry", "bad sequence number")
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxEntryItems {
		return epoch, seq, nil, linkis.Errorf(linkis.ErrMalformed, "entry", "bad item count")
	}
	b = b[k:]
	items = make([]item, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(b) == 0 {
			return epoch, seq, nil, linkis.Errorf(linkis.ErrMalformed, "entry", "item %d missing", i)
		}
		kind := b[0]
		l, k := binary.Uvarint(b[1:])
		if k <= 0 || l > uint64(len(b)-1-k) {
			return epoch, seq, nil, linkis.Errorf(linkis.ErrMalformed, "entry", "item %d is cut short", i)
		}
		body := b[1+k : 1+k+int(l)]
		it := item{kind: kind, body: body}
		if kind == itemCommand {
			if it.cmd, err = manager.DecodeCommand(body); err != nil {
				return epoch, seq, nil, err
			}
		}
		items = append(items, it)
		b = b[1+k+int(l):]
	}
	if len(b) != 0 {
		return epoch, seq, nil, linkis.Errorf(linkis.ErrMalformed, "entry", "%d bytes after the last item", len(b))
	}
	return epoch, seq, items, nil
}

func memberItem(m api.Member) []byte {
	b, _ := json.Marshal(m) // a struct of strings and bools always encodes
	return b
}
