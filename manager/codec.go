package manager

import (
	"github.com/golinkis/golinkis/linkis"
)

// Encoded command layout:
//
//	byte 0   type (low 7 bits) | IgnoreIfUnknown (0x80)
//	byte 1   body version of that type (currently 1 for every type)
//	byte 2.. body: the command's fields in order, as varints and
//	         length-prefixed strings (see wire.go)
//
// A decoder that does not know a type, or knows it only in older versions,
// skips the command when the ignore bit is set (it decodes as Ignored) and
// refuses it otherwise. New command types that replicas may safely skip
// during a rolling upgrade set the bit; no type defined so far does, since
// each of them changes the state every replica must agree on.
const (
	IgnoreIfUnknown byte = 0x80
	bodyVersion     byte = 1
	// MaxCommandSize bounds an encoded command.
	MaxCommandSize = 1 << 20
)

// commandVersion is the body version a command type is encoded with.
// Version 2 of RegisterECM, DeregisterECM and ECMHeartbeat adds Replace,
// Addr and Addr; their version 1 (written before) still decodes, with those
// fields zero. Every other type is at version 1.
func commandVersion(t CommandType) byte {
	switch t {
	case CmdRegisterECM, CmdDeregisterECM, CmdECMHeartbeat, CmdSubmitJob:
		return 2
	}
	return bodyVersion
}

// Ignored is what DecodeCommand returns for a command it does not know but
// that was marked IgnoreIfUnknown. Applying it changes nothing.
type Ignored struct {
	Kind    CommandType
	Version byte
}

// Type implements Command.
func (c Ignored) Type() CommandType { return c.Kind }

// At implements Command; an ignored command has no time.
func (Ignored) At() int64 { return 0 }

// EncodeCommand returns the binary form of c.
func EncodeCommand(c Command) []byte { return AppendCommand(nil, c) }

// AppendCommand appends the binary form of c to b.
func AppendCommand(b []byte, c Command) []byte {
	e := enc{b: b}
	e.byte(byte(c.Type()))
	e.byte(commandVersion(c.Type()))
	e.i(c.At())
	switch c := c.(type) {
	case RegisterECM:
		e.str(c.ID)
		e.str(c.Addr)
		e.labels(c.Labels)
		e.res(c.Max)
		e.bool(c.Replace) // version 2
	case DeregisterECM:
		e.str(c.ID)
		e.bool(c.Force)
		e.str(c.Addr) // version 2
	case ECMHeartbeat:
		e.str(c.ID)
		e.byte(byte(c.Health))
		e.load(c.Load)
		e.str(c.Addr) // version 2
	case ECHeartbeat:
		e.u(uint64(c.EC))
		e.byte(byte(c.Status))
		e.byte(byte(c.Health))
		e.load(c.Load)
	case AskEngine:
		e.str(c.ID)
		e.u(c.Nonce)
		e.labels(c.Labels)
		e.params(c.Params)
		e.dur(c.LockTimeout)
		e.dur(c.WaitTimeout)
	case EngineStarted:
		e.u(uint64(c.EC))
		e.str(c.Addr)
	case EngineEnded:
		e.u(uint64(c.EC))
		e.bool(c.Failed)
		e.str(c.Reason)
		e.bool(c.Retryable)
	case ReleaseEngine:
		e.str(c.AskID)
	case KillEngine:
		e.u(uint64(c.EC))
		e.str(c.Reason)
	case RenewLock:
		e.str(c.AskID)
	case UnlockEngine:
		e.u(uint64(c.EC))
		e.u(uint64(c.Token))
	case Tick:
	case SetQuota:
		e.str(c.Key)
		e.res(c.Max)
		e.bool(c.Reset)
	case SetPluginParams:
		e.str(c.EngineType)
		e.params(c.Params)
	case Configure:
		encodeConfigBase(&e, c.Config)
		if !c.keepExt {
			encodeConfigExt(&e, c.Config)
		}
	case SetWarmPool:
		e.str(c.Key)
		e.i(int64(c.MinIdle))
	default:
		if !appendJobCommand(&e, c) && !appendAdminCommand(&e, c) && !appendSessionCommand(&e, c) {
			panic("manager: cannot encode command " + c.Type().String())
		}
	}
	return e.b
}

// DecodeCommand parses one encoded command. Malformed input (truncated,
// trailing bytes, lengths past their limits, unsorted labels) gives
// ErrMalformed; an unknown type or version gives ErrUnknownCommand unless it
// carries IgnoreIfUnknown, in which case it decodes as Ignored.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) > MaxCommandSize {
		return nil, linkis.Errorf(linkis.ErrMalformed, "command", "%d bytes, at most %d allowed", len(b), MaxCommandSize)
	}
	if len(b) < 2 {
		return nil, linkis.Errorf(linkis.ErrMalformed, "command", "%d bytes is shorter than the 2-byte header", len(b))
	}
	typ, ignorable, version := CommandType(b[0]&^IgnoreIfUnknown), b[0]&IgnoreIfUnknown != 0, b[1]
	if _, known := commandNames[typ]; !known || version != commandVersion(typ) && version != bodyVersion {
		if ignorable {
			return Ignored{Kind: typ, Version: version}, nil
		}
		return nil, linkis.Errorf(linkis.ErrUnknownCommand, "command", "type %d version %d is not known to this manager", typ, version)
	}
	d := dec{b: b[2:]}
	t := d.i()
	var c Command
	switch typ {
	case CmdRegisterECM:
		r := RegisterECM{Time: t, ID: d.str("id", 128), Addr: d.str("addr", linkis.MaxAddressLen), Labels: d.labels(), Max: d.res()}
		if version > 1 {
			r.Replace = d.bool()
		}
		c = r
	case CmdDeregisterECM:
		r := DeregisterECM{Time: t, ID: d.str("id", 128), Force: d.bool()}
		if version > 1 {
			r.Addr = d.str("addr", linkis.MaxAddressLen)
		}
		c = r
	case CmdECMHeartbeat:
		r := ECMHeartbeat{Time: t, ID: d.str("id", 128), Health: linkis.NodeHealth(d.byte()), Load: d.load()}
		if version > 1 {
			r.Addr = d.str("addr", linkis.MaxAddressLen)
		}
		c = r
	case CmdECHeartbeat:
		c = ECHeartbeat{Time: t, EC: ECID(d.u()), Status: linkis.NodeStatus(d.byte()), Health: linkis.NodeHealth(d.byte()), Load: d.load()}
	case CmdAskEngine:
		c = AskEngine{Time: t, ID: d.str("id", MaxAskIDLen), Nonce: d.u(), Labels: d.labels(), Params: d.params(), LockTimeout: d.dur(), WaitTimeout: d.dur()}
	case CmdEngineStarted:
		c = EngineStarted{Time: t, EC: ECID(d.u()), Addr: d.str("addr", linkis.MaxAddressLen)}
	case CmdEngineEnded:
		c = EngineEnded{Time: t, EC: ECID(d.u()), Failed: d.bool(), Reason: d.str("reason", MaxReasonLen), Retryable: d.bool()}
	case CmdReleaseEngine:
		c = ReleaseEngine{Time: t, AskID: d.str("askID", MaxAskIDLen)}
	case CmdKillEngine:
		c = KillEngine{Time: t, EC: ECID(d.u()), Reason: d.str("reason", MaxReasonLen)}
	case CmdRenewLock:
		c = RenewLock{Time: t, AskID: d.str("askID", MaxAskIDLen)}
	case CmdUnlockEngine:
		c = UnlockEngine{Time: t, EC: ECID(d.u()), Token: LockToken(d.u())}
	case CmdTick:
		c = Tick{Time: t}
	case CmdSetQuota:
		c = SetQuota{Time: t, Key: d.str("key", 512), Max: d.res(), Reset: d.bool()}
	case CmdSetPluginParams:
		c = SetPluginParams{Time: t, EngineType: d.str("engineType", 128), Params: d.params()}
	case CmdConfigure:
		cfg := decodeConfig(&d)
		keepExt := len(d.b) == 0 // written before the extension
		if !keepExt {
			decodeConfigExt(&d, &cfg)
		}
		c = Configure{Time: t, Config: cfg, keepExt: keepExt}
	case CmdSetWarmPool:
		c = SetWarmPool{Time: t, Key: d.str("key", 512), MinIdle: int(d.i())}
	default:
		if c = decodeJobCommand(&d, typ, version, t); c == nil {
			if c = decodeAdminCommand(&d, typ, t); c == nil {
				c = decodeSessionCommand(&d, typ, t)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, linkis.Errorf(linkis.ErrMalformed, typ.String(), "%d trailing bytes", len(d.b))
	}
	return c, nil
}

func encodeConfig(e *enc, c Config) {
	encodeConfigBase(e, c)
	encodeConfigExt(e, c)
}

func encodeConfigBase(e *enc, c Config) {
	e.u(c.Seed)
	for _, d := range [...]int64{
		int64(c.LockTimeout), int64(c.ResourceLockTimeout), int64(c.AskWaitTimeout), int64(c.IdleTimeout),
		int64(c.ECLostAfter), int64(c.ECMLostAfter), int64(c.NewECMStandby), int64(c.TickInterval),
		int64(c.MaxTasksPerEC), int64(c.HotspotTopK), int64(c.MemoryLoadBuckets), int64(c.MaxWaitersPerKey),
	} {
		e.i(d)
	}
	e.res(c.DefaultECMResource)
	e.res(c.DefaultQuota)
}

// The configuration's extension: fields added after the first format.
// A snapshot of version 1 or 2 has none and restores with the configured
// ones (see RestoreConfigured); a Configure command written before them
// ends where they start and leaves the state's as they are - which, in a
// log written before them, are the configured ones too.
func encodeConfigExt(e *enc, c Config) {
	e.bool(c.ReclaimIdle)
}

func decodeConfigExt(d *dec, c *Config) {
	c.ReclaimIdle = d.bool()
}

// copyConfigExt sets c's extension to from's.
func copyConfigExt(c *Config, from Config) {
	c.ReclaimIdle = from.ReclaimIdle
}

func decodeConfig(d *dec) Config {
	c := Config{Seed: d.u()}
	c.LockTimeout, c.ResourceLockTimeout, c.AskWaitTimeout, c.IdleTimeout = d.dur(), d.dur(), d.dur(), d.dur()
	c.ECLostAfter, c.ECMLostAfter, c.NewECMStandby, c.TickInterval = d.dur(), d.dur(), d.dur(), d.dur()
	c.MaxTasksPerEC, c.HotspotTopK, c.MemoryLoadBuckets, c.MaxWaitersPerKey = int(d.i()), int(d.i()), int(d.i()), int(d.i())
	c.DefaultECMResource, c.DefaultQuota = d.res(), d.res()
	return c
}
