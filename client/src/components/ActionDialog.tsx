import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { X } from "lucide-react";

export interface DialogField {
  name: string;
  label: string;
  kind: "text" | "textarea" | "date";
  required?: boolean;
  min?: string;
  placeholder?: string;
  initial?: string;
  help?: string;
}

interface Props {
  open: boolean;
  title: string;
  children?: ReactNode;
  fields: DialogField[];
  confirmLabel: string;
  danger?: boolean;
  onConfirm: (values: Record<string, string>) => void;
  onClose: () => void;
}

/** A modal confirmation with a few fields (note, reason, date): Escape or Cancel closes, required fields are checked. */
export function ActionDialog({ open, title, children, fields, confirmLabel, danger = false, onConfirm, onClose }: Props) {
  const id = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [touched, setTouched] = useState(false);
  const [shownOpen, setShownOpen] = useState(false);

  // Reset the fields while rendering the opening, not in the effect below: an effect's reset lands one
  // render later, so the dialog first showed the previous (or empty) values instead of the defaults.
  if (open !== shownOpen) {
    setShownOpen(open);
    if (open) {
      setValues(Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ""])));
      setTouched(false);
    }
  }

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      if (typeof d.showModal === "function") d.showModal();
      else d.setAttribute("open", "");
    } else if (!open && d.open) {
      if (typeof d.close === "function") d.close();
      else d.removeAttribute("open");
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  const missing = fields.filter((f) => f.required && !(values[f.name] ?? "").trim());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (missing.length) return;
    onConfirm(Object.fromEntries(fields.map((f) => [f.name, (values[f.name] ?? "").trim()])));
  };

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={`${id}-title`} onCancel={(e) => (e.preventDefault(), onClose())}>
      {open ? (
        <form onSubmit={submit} noValidate>
          <header className="dialog-head">
            <h2 id={`${id}-title`}>{title}</h2>
            <button type="button" className="icon-button" onClick={onClose} aria-label="Close">
              <X size={18} aria-hidden="true" />
            </button>
          </header>
          {children}
          {fields.map((f, i) => {
            const invalid = touched && f.required && !(values[f.name] ?? "").trim();
            const common = {
              id: `${id}-${f.name}`,
              value: values[f.name] ?? "",
              required: f.required,
              "aria-invalid": invalid || undefined,
              "aria-describedby": invalid ? `${id}-${f.name}-err` : f.help ? `${id}-${f.name}-help` : undefined,
              autoFocus: i === 0,
              placeholder: f.placeholder,
              onChange: (e: { target: { value: string } }) => setValues((v) => ({ ...v, [f.name]: e.target.value })),
            };
            return (
              <div className="field" key={f.name}>
                <label htmlFor={`${id}-${f.name}`}>
                  {f.label}
                  {f.required ? <span className="req"> (required)</span> : <span className="muted"> (optional)</span>}
                </label>
                {f.kind === "textarea" ? <textarea rows={3} {...common} /> : <input type={f.kind === "date" ? "date" : "text"} min={f.min} {...common} />}
                {f.help ? (
                  <span id={`${id}-${f.name}-help`} className="muted small">
                    {f.help}
                  </span>
                ) : null}
                {invalid ? (
                  <span id={`${id}-${f.name}-err`} className="inline-error" role="alert">
                    {f.label} is required.
                  </span>
                ) : null}
              </div>
            );
          })}
          <div className="dialog-actions">
            <button type="button" className="btn btn-ghost" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className={`btn ${danger ? "btn-danger" : "btn-primary"}`}>
              {confirmLabel}
            </button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}
