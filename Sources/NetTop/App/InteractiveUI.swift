// PLACEHOLDER for the interactive ncurses UI (a later issue replaces this file).
// `NetTopCommand.execute` calls `InteractiveUI.run` when neither --batch nor --json is given, after the
// usage and root checks; the UI gets the parsed view and tracer options and the environment.
import TracerCore

enum InteractiveUI {
    static func run(view: ViewOptions, tracer: TracerArguments, interval: Double,
                    environment env: AppEnvironment) -> Int32 {
        env.writeError("nettop: the interactive UI is not available yet; use --batch or --json")
        return 69
    }
}
