import DemoSyncCLI
import Foundation

exit(await DemoSyncCommandLine.run(Array(CommandLine.arguments.dropFirst())))
