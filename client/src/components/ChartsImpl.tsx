// Recharts lives in its own chunk, loaded lazily by Charts.tsx: the first page load does not carry it.
import { Bar, BarChart, CartesianGrid, Cell, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatDate, formatMonth, formatScore } from "../lib/format";

export interface TrendPoint {
  asOf: string;
  healthScore: number | null;
  churnRisk: number | null;
}

const COLORS = { health: "#2563eb", churn: "#c2410c" };

export default function TrendChartImpl({ points }: { points: TrendPoint[] }) {
  return (
    <ResponsiveContainer width="100%" height={260}>
      <LineChart accessibilityLayer={false} data={points} margin={{ top: 8, right: 16, bottom: 4, left: -12 }}>
        <CartesianGrid stroke="#e2e8f0" strokeDasharray="3 3" />
        <XAxis dataKey="asOf" tickFormatter={formatMonth} tick={{ fontSize: 12, fill: "#475569" }} />
        <YAxis domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} tick={{ fontSize: 12, fill: "#475569" }} />
        <Tooltip labelFormatter={(l) => formatDate(String(l))} formatter={(v, name) => [formatScore(v as number), name]} />
        <Legend wrapperStyle={{ fontSize: 13 }} />
        <Line type="monotone" dataKey="healthScore" name="Health" stroke={COLORS.health} strokeWidth={2.5} dot={{ r: 3 }} connectNulls isAnimationActive={false} />
        <Line type="monotone" dataKey="churnRisk" name="Churn risk" stroke={COLORS.churn} strokeWidth={2.5} strokeDasharray="6 3" dot={{ r: 3, strokeDasharray: "" }} connectNulls isAnimationActive={false} />
      </LineChart>
    </ResponsiveContainer>
  );
}

export interface Bucket {
  label: string;
  count: number;
  color: string;
}

export function DistributionChartImpl({ buckets, name }: { buckets: Bucket[]; name: string }) {
  return (
    <ResponsiveContainer width="100%" height={200}>
      <BarChart accessibilityLayer={false} data={buckets} layout="vertical" margin={{ top: 4, right: 32, bottom: 4, left: 8 }}>
        <CartesianGrid stroke="#e2e8f0" strokeDasharray="3 3" horizontal={false} />
        <XAxis type="number" allowDecimals={false} tick={{ fontSize: 12, fill: "#475569" }} />
        <YAxis type="category" dataKey="label" width={84} tick={{ fontSize: 13, fill: "#0f172a" }} />
        <Tooltip formatter={(v) => [v as number, name]} cursor={{ fill: "#f1f5f9" }} />
        <Bar dataKey="count" name={name} isAnimationActive={false} label={{ position: "right", fontSize: 12, fill: "#0f172a" }}>
          {buckets.map((b) => (
            <Cell key={b.label} fill={b.color} />
          ))}
        </Bar>
      </BarChart>
    </ResponsiveContainer>
  );
}
