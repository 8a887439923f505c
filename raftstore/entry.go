package raftstore

import (
	"encoding/binary"
	"encoding/json"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// A log entry is a kind byte and a body. Commands entries carry a batch
// (group commit): a count, then each command's length and its encoding
// (manager's versioned codec). Member entries carry one member's addresses
// as JSON, so that every replica knows where to forward requests.
const (
	entryCommands     byte = 1
	entryMember       byte = 2 // api.Member: add or update
	entryMemberRemove byte = 3 // the member's id
)

// maxEntryCommands bounds the count a decoder believes.
const maxEntryCommands = 1 << 16

func appendCommands(b []byte, cmds []manager.Command) []byte {
	b = append(b, entryCommands)
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	var scratch []byte
	for _, c := range cmds {
		scratch = manager.AppendCommand(scratch[:0], c)
		b = binary.AppendUvarint(b, uint64(len(scratch)))
		b = append(b, scratch...)
	}
	return b
}

func decodeCommands(b []byte) ([]manager.Command, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxEntryCommands {
		return nil, linkis.Errorf(linkis.ErrMalformed, "entry", "bad command count")
	}
	b = b[k:]
	cmds := make([]manager.Command, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, linkis.Errorf(linkis.ErrMalformed, "entry", "command %d is cut short", i)
		}
		c, err := manager.DecodeCommand(b[k : k+int(l)])
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, linkis.Errorf(linkis.ErrMalformed, "entry", "%d bytes after the last command", len(b))
	}
	return cmds, nil
}

func memberEntry(m api.Member) []byte {
	b, _ := json.Marshal(m) // a struct of strings and bools always encodes
	return append([]byte{entryMember}, b...)
}

func memberRemoveEntry(id string) []byte {
	return append([]byte{entryMemberRemove}, id...)
}
