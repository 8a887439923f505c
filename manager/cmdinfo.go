package manager

// TypeOf returns a command's type and timeOf its time through type
// switches. Calling the Command interface's methods instead would make
// every command handed to Apply escape to the heap: an allocation per
// command, of which a simulated day applies tens of millions. A command
// type they do not list is unknown to Apply (TestTypeOfEveryCommand).
func TypeOf(cmd Command) CommandType {
	switch c := cmd.(type) {
	case RegisterECM:
		return CmdRegisterECM
	case DeregisterECM:
		return CmdDeregisterECM
	case ECMHeartbeat:
		return CmdECMHeartbeat
	case ECHeartbeat:
		return CmdECHeartbeat
	case AskEngine:
		return CmdAskEngine
	case EngineStarted:
		return CmdEngineStarted
	case EngineEnded:
		return CmdEngineEnded
	case ReleaseEngine:
		return CmdReleaseEngine
	case KillEngine:
		return CmdKillEngine
	case RenewLock:
		return CmdRenewLock
	case UnlockEngine:
		return CmdUnlockEngine
	case Tick:
		return CmdTick
	case SetQuota:
		return CmdSetQuota
	case SetPluginParams:
		return CmdSetPluginParams
	case Configure:
		return CmdConfigure
	case SetWarmPool:
		return CmdSetWarmPool
	case SubmitJob:
		return CmdSubmitJob
	case UpdateJob:
		return CmdUpdateJob
	case KillJob:
		return CmdKillJob
	case ConfigureJobs:
		return CmdConfigureJobs
	case ImportJob:
		return CmdImportJob
	case ModifyECM:
		return CmdModifyECM
	case KillEngines:
		return CmdKillEngines
	case SetConfig:
		return CmdSetConfig
	case SetVariables:
		return CmdSetVariables
	case CreateSession:
		return CmdCreateSession
	case TouchSession:
		return CmdTouchSession
	case DeleteSession:
		return CmdDeleteSession
	case DeleteUserSessions:
		return CmdDeleteUserSessions
	case Ignored:
		return c.Kind
	}
	return 0
}

// timeOf returns a known command's time; ok is false for a type TypeOf
// does not know.
func timeOf(cmd Command) (t int64, ok bool) {
	switch c := cmd.(type) {
	case RegisterECM:
		return c.Time, true
	case DeregisterECM:
		return c.Time, true
	case ECMHeartbeat:
		return c.Time, true
	case ECHeartbeat:
		return c.Time, true
	case AskEngine:
		return c.Time, true
	case EngineStarted:
		return c.Time, true
	case EngineEnded:
		return c.Time, true
	case ReleaseEngine:
		return c.Time, true
	case KillEngine:
		return c.Time, true
	case RenewLock:
		return c.Time, true
	case UnlockEngine:
		return c.Time, true
	case Tick:
		return c.Time, true
	case SetQuota:
		return c.Time, true
	case SetPluginParams:
		return c.Time, true
	case Configure:
		return c.Time, true
	case SetWarmPool:
		return c.Time, true
	case SubmitJob:
		return c.Time, true
	case UpdateJob:
		return c.Time, true
	case KillJob:
		return c.Time, true
	case ConfigureJobs:
		return c.Time, true
	case ImportJob:
		return c.Time, true
	case ModifyECM:
		return c.Time, true
	case KillEngines:
		return c.Time, true
	case SetConfig:
		return c.Time, true
	case SetVariables:
		return c.Time, true
	case CreateSession:
		return c.Time, true
	case TouchSession:
		return c.Time, true
	case DeleteSession:
		return c.Time, true
	case DeleteUserSessions:
		return c.Time, true
	}
	return 0, false
}
