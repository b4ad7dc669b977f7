import type { ReactNode } from "react";
import { NavLink, Link } from "react-router";
import { GitMerge, LayoutDashboard, Users } from "lucide-react";
import { SearchBox } from "./SearchBox";
import { ApiKeyControl } from "./ApiKeyDialog";

export function Layout({ children }: { children: ReactNode }) {
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            360
          </span>
          <span className="brand-name">Customer 360</span>
        </Link>
        <nav aria-label="Main" className="mainnav">
          <NavLink to="/" end>
            <LayoutDashboard size={16} aria-hidden="true" /> Dashboard
          </NavLink>
          <NavLink to="/customers">
            <Users size={16} aria-hidden="true" /> Customers
          </NavLink>
          <NavLink to="/review" title="Link review queue (admins)">
            <GitMerge size={16} aria-hidden="true" /> Link review
          </NavLink>
        </nav>
        <SearchBox />
        <ApiKeyControl />
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
