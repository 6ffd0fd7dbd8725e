import DemoSyncCLI
import Foundation
import NIOCore
import NIOPosix

// Swift concurrency runs on NIO's event-loop threads rather than a separate pool, so a capture's
// work does not hop between thread pools (see docs/benchmarks.md for what it bought).
// DEMOSYNC_NIO_EXECUTOR=0 keeps the default executor, for comparison.
if ProcessInfo.processInfo.environment["DEMOSYNC_NIO_EXECUTOR"] != "0" {
    _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
exit(await DemoSyncCommandLine.run(Array(CommandLine.arguments.dropFirst())))
