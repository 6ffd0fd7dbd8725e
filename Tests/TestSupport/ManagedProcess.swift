import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests, started with `posix_spawn`, its output captured to a file, and
/// killed when the object goes away so that no test leaves a process behind.
public final class ManagedProcess: Sendable {
    public let processIdentifier: pid_t
    public let name: String
    /// Where stdout goes (and stderr, unless it has a file of its own).
    public let logFile: URL
    /// Where stderr goes when it is kept apart.
    public let errorLogFile: URL?
    private let exitStatus = Mutex<Int32?>(nil)

    private init(processIdentifier: pid_t, name: String, logFile: URL, errorLogFile: URL?) {
        self.processIdentifier = processIdentifier
        self.name = name
        self.logFile = logFile
        self.errorLogFile = errorLogFile
    }

    /// Starts `executable` with `arguments` and `environment` added to this process's own.
    public static func launch(
        executable: String, arguments: [String], environment: [String: String] = [:], name: String,
        separateStandardError: Bool = false
    ) throws -> ManagedProcess {
        let stem = "demosync-tests-\(name)-\(UUID().uuidString.prefix(8))"
        let logFile = FileManager.default.temporaryDirectory.appending(path: "\(stem).log")
        let errorLogFile = separateStandardError ? FileManager.default.temporaryDirectory.appending(path: "\(stem).err") : nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let errorLogFile {
            posix_spawn_file_actions_addopen(&actions, 2, errorLogFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        let fullEnvironment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = fullEnvironment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // The child starts with no signal blocked and SIGINT/SIGTERM at their defaults, whatever
        // the spawning thread of the test runner had: a shell script only traps signals that
        // reach it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw TestSupportError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        ChildProcesses.started(pid)
        return ManagedProcess(processIdentifier: pid, name: name, logFile: logFile, errorLogFile: errorLogFile)
    }

    /// The exit status once the process has ended (reaped here), `nil` while it runs.
    public var terminationStatus: Int32? {
        exitStatus.withLock { known in
            if let known { return known }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return nil }
            ChildProcesses.ended(processIdentifier)
            // WIFEXITED / WEXITSTATUS and WTERMSIG, spelled out (they are macros in C).
            let signal = status & 0x7f
            known = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return known
        }
    }

    public var isRunning: Bool { terminationStatus == nil }

    /// Sends a signal (SIGTERM, SIGINT, SIGKILL...).
    public func signal(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// Waits for the process to exit and returns its status (128 + signal when killed by one), or
    /// `nil` after `timeout`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = terminationStatus { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`.
    @discardableResult
    public func terminate(grace: Duration = .seconds(5)) async -> Int32? {
        signal(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        return await waitForExit(timeout: .seconds(5))
    }

    /// What the process printed so far (on stdout, and stderr unless kept apart).
    public var output: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// What the process printed on stderr, when kept apart.
    public var errorOutput: String {
        errorLogFile.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }

    deinit {
        if isRunning {
            kill(processIdentifier, SIGKILL)
            var status: Int32 = 0
            waitpid(processIdentifier, &status, 0)
            ChildProcesses.ended(processIdentifier)
        }
    }
}

/// Every child a test started and has not seen end, killed when the test process exits so that
/// no broker or server outlives the run (cleanup tasks scheduled by finished tests may never
/// get to run before exit).
enum ChildProcesses {
    private static let running = Mutex<Set<pid_t>?>(nil)

    static func started(_ pid: pid_t) {
        let first = running.withLock { set -> Bool in
            defer { set = (set ?? []).union([pid]) }
            return set == nil
        }
        if first { atexit { ChildProcesses.killAll() } }
    }

    static func ended(_ pid: pid_t) {
        running.withLock { _ = $0?.remove(pid) }
    }

    private static func killAll() {
        for pid in running.withLock({ $0 ?? [] }) { kill(pid, SIGKILL) }
    }
}
