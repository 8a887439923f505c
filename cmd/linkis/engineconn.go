package main

import "github.com/golinkis/golinkis/engineconn/engines"

// runEngineConn is `linkis engineconn --ticket ec-N --engine TYPE-VERSION
// [--param k=v]...`, started by an ECM with the creation context in its
// environment.
func runEngineConn(args []string) error { return engines.Main(args) }
