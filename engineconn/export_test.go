package engineconn

// BusyReportDelay is busyReportDelay, for the tests.
const BusyReportDelay = busyReportDelay
