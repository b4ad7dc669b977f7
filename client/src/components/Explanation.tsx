import { Check, X } from "lucide-react";

interface Props {
  explanation: { text: string; conditions: { field: string; op: string; threshold: string; actual: string; met: boolean }[] };
}

/** Why a rule fired: each test with its threshold and the customer's actual value. */
export function Explanation({ explanation }: Props) {
  return (
    <details className="explanation">
      <summary>Why ({explanation.conditions.filter((c) => c.met).length} of {explanation.conditions.length} tests met)</summary>
      <table className="data-table compact">
        <caption className="sr-only">{explanation.text}</caption>
        <thead>
          <tr>
            <th scope="col">Fact</th>
            <th scope="col">Test</th>
            <th scope="col">Actual</th>
            <th scope="col">Met</th>
          </tr>
        </thead>
        <tbody>
          {explanation.conditions.map((c, i) => (
            <tr key={i}>
              <td className="mono">{c.field}</td>
              <td>
                {c.op} {c.threshold}
              </td>
              <td>{c.actual}</td>
              <td>
                {c.met ? (
                  <span className="met yes">
                    <Check size={14} aria-hidden="true" /> yes
                  </span>
                ) : (
                  <span className="met no">
                    <X size={14} aria-hidden="true" /> no
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
