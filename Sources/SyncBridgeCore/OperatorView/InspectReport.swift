import Foundation

/// What `syncbridge inspect` prints: every integration as a table row, oldest waiting event
/// first, or one integration in sentences with its recent calls. Times are UTC time of day.
public enum InspectReport {
    public static func table(_ document: IntegrationsDocument) -> String {
        var lines = document.targets.map(targetLine)
        let rows = document.integrations.sorted(by: oldestWaitingFirst).map { item in
            [
                item.target, item.id, item.state, String(item.pendingEvents), item.oldestPendingAgeSeconds.map(age) ?? "-",
                item.nextAction.map(nextText) ?? "-", item.lastTrigger.map { "\(clockTime($0.sentAt)) \($0.outcome)" } ?? "-",
            ]
        }
        lines.append("")
        lines.append(contentsOf: columns([["TARGET", "INTEGRATION", "STATE", "PENDING", "OLDEST", "NEXT", "LAST TRIGGER"]] + rows))
        if rows.isEmpty { lines.append("(no integration has seen an event yet)") }
        return lines.joined(separator: "\n")
    }

    /// How many of an integration's recorded calls the sentences list.
    public static let recentCalls = 20

    public static func sentences(_ document: IntegrationsDocument) -> String {
        var paragraphs: [String] = []
        for item in document.integrations {
            let target = document.targets.first { $0.name == item.target }
            var text = ["\(item.id) on target \(item.target): \(item.state.replacingOccurrences(of: "_", with: " "))."]
            text.append(contentsOf: situation(item, target))
            if let target {
                text.append(
                    "Budget: \(target.triggers.used) of \(target.triggers.limit) triggers and \(target.statuses.used) of \(target.statuses.limit) status calls used this \(window(target.triggers.windowSeconds))."
                )
            }
            if !item.learnedDurationsSeconds.isEmpty {
                text.append("Learned job durations: \(item.learnedDurationsSeconds.map { seconds($0) }.joined(separator: ", ")).")
            }
            text.append(item.rules.isEmpty ? "No rule in the current rules names it." : "Fed by rules: \(item.rules.joined(separator: ", ")).")
            var paragraph = text.joined(separator: " ")
            if let history = item.history, !history.isEmpty {
                let rows = history.suffix(recentCalls).reversed().map { call in
                    [
                        clockTime(call.sentAt, milliseconds: true), call.kind, call.outcome, "\(Int(saturating: call.latencyMs.rounded())) ms",
                        call.kind == "trigger" ? "\(call.events) events" : "",
                    ]
                }
                let shown = history.count > recentCalls ? " (\(recentCalls) of the \(history.count) in the JSON view)" : ""
                paragraph += "\n\nRecent calls, newest first\(shown):\n" + columns(rows).joined(separator: "\n")
            }
            paragraphs.append(paragraph)
        }
        return paragraphs.isEmpty ? "No such integration has seen an event." : paragraphs.joined(separator: "\n\n")
    }

    static func situation(_ item: IntegrationsDocument.Integration, _ target: IntegrationsDocument.Target?) -> [String] {
        var text: [String] = []
        if item.pendingEvents > 0, let since = item.oldestPendingAt {
            text.append("\(item.pendingEvents) \(item.pendingEvents == 1 ? "event" : "events") waiting since \(clockTime(since)).")
        } else {
            text.append("Nothing is waiting.")
        }
        switch item.state {
        case "running":
            if let since = item.jobRunningSince {
                text.append("The job started at \(clockTime(since)) has not been seen to finish; it is polled only while events wait for it.")
            }
        case "running_with_new_events":
            if let since = item.jobRunningSince {
                // RFC 3339 times in UTC compare as text.
                let polled = item.lastStatus.flatMap { $0.sentAt >= since ? " (polled \(clockTime($0.sentAt)))" : nil } ?? ""
                text.append("The job started at \(clockTime(since)) is still running\(polled).")
            }
        case "backing_off":
            let last = item.lastTrigger?.outcome ?? item.lastStatus?.outcome ?? "a failure"
            text.append("The last call ended in \(last) (\(item.failures) in a row); it is retried with backoff.")
        case "disabled":
            text.append(
                "Braze answered \(item.disabledStatus ?? 404) for this ID: its events are dead-lettered, and it is not called again until the rules change."
            )
        case "paused":
            if let pause = target?.paused { text.append("Target \(item.target) is paused: Braze answered \(pause.status); fix the API key.") }
        case "waiting_for_budget":
            text.append("The rate budget is spent; the call waits for a token to free.")
        case "coalescing":
            text.append("It waits for the burst to end (coalesce.quiet, capped by coalesce.max_delay).")
        default:
            break
        }
        if let next = item.nextAction { text.append(nextSentence(next)) }
        if let trigger = item.lastTrigger {
            text.append(
                "Last trigger \(clockTime(trigger.sentAt)): \(trigger.outcome), \(trigger.events) \(trigger.events == 1 ? "event" : "events").")
        }
        return text
    }

    static func targetLine(_ target: IntegrationsDocument.Target) -> String {
        var line =
            "Target \(target.name): triggers \(target.triggers.used) of \(target.triggers.limit) used this \(window(target.triggers.windowSeconds))"
        if target.triggers.remaining == 0, let release = target.triggers.nextReleaseAt { line += " (next frees \(clockTime(release)))" }
        line += ", status calls \(target.statuses.used) of \(target.statuses.limit)"
        if let pause = target.paused {
            line += "; PAUSED by HTTP \(pause.status)" + (pause.nextProbeAt.map { ", next probe \(clockTime($0))" } ?? "")
        }
        if target.statusForbidden { line += "; the status endpoint answers 403, so running jobs are probed with triggers" }
        return line + "."
    }

    static func nextSentence(_ action: IntegrationsDocument.Action) -> String {
        switch action.kind {
        case "await_answer": return "A call is on its way."
        default: return "Next \(action.kind) " + (action.inSeconds < 0.5 ? "now." : "in \(seconds(action.inSeconds)).")
        }
    }

    static func nextText(_ action: IntegrationsDocument.Action) -> String {
        action.kind == "await_answer" ? "awaiting answer" : "\(action.kind) in \(seconds(action.inSeconds))"
    }

    static func oldestWaitingFirst(_ a: IntegrationsDocument.Integration, _ b: IntegrationsDocument.Integration) -> Bool {
        let (ageA, ageB) = (a.oldestPendingAgeSeconds ?? -1, b.oldestPendingAgeSeconds ?? -1)
        return ageA != ageB ? ageA > ageB : (a.target, a.id) < (b.target, b.id)
    }

    /// `12:03:15` from an RFC 3339 time; the text itself when it is not one.
    static func clockTime(_ timestamp: String, milliseconds: Bool = false) -> String {
        guard let t = timestamp.firstIndex(of: "T") else { return timestamp }
        let time = timestamp[timestamp.index(after: t)...].prefix(milliseconds ? 12 : 8)
        return String(time)
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? "\(((value * 10).rounded() / 10).formatted()) s" : "\(Int(saturating: value.rounded())) s"
    }

    static func age(_ value: Double) -> String {
        value < 120 ? seconds(value) : value < 7200 ? "\(Int(saturating: value / 60)) min" : "\(Int(saturating: value / 3600)) h"
    }

    static func window(_ windowSeconds: Double) -> String {
        windowSeconds == 60 ? "minute" : windowSeconds == 3600 ? "hour" : "\(seconds(windowSeconds)) window"
    }

    /// Left-aligned columns, two spaces apart.
    static func columns(_ rows: [[String]]) -> [String] {
        let widths = rows.reduce(into: [Int]()) { widths, row in
            for (index, cell) in row.enumerated() {
                if index == widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingTrailingSpaces
        }
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
