package tikvtest

// A stopped store keeps its address, so that Prometheus scrapes it again
// once it starts. Closing its listener and listening again later left the
// port free in between, and another process's socket could take it (a
// test failed with "address already in use" on StartStore). So store
// listeners set SO_REUSEPORT, and while a store is stopped its port is
// held by a socket bound with SO_REUSEPORT but not listening (package
// bindonly): connections are refused, as by a dead TiKV; no socket without
// SO_REUSEPORT can bind the port (other programs' listeners, outgoing
// connections' ephemeral ports); and the store's next listener binds
// beside it before it is closed, so the port is never free. Where the
// system has no SO_REUSEPORT, the port is free while the store is
// stopped, as it used to be.

// (bindonly.Listen and bindonly.Hold.)
