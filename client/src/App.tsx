import { HashRouter, Link, Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { Empty } from "./components/States";
import { CustomerPage } from "./pages/CustomerPage";
import { CustomersPage } from "./pages/CustomersPage";
import { DashboardPage } from "./pages/DashboardPage";
import { MasterAccountPage } from "./pages/MasterAccountPage";
import { ReviewQueuePage } from "./pages/ReviewQueuePage";

export function AppRoutes() {
  return (
    <Layout>
      <Routes>
        <Route path="/" element={<DashboardPage />} />
        <Route path="/customers" element={<CustomersPage />} />
        <Route path="/customers/:id" element={<CustomerPage />} />
        <Route path="/masters/:id" element={<MasterAccountPage />} />
        <Route path="/review" element={<ReviewQueuePage />} />
        <Route
          path="*"
          element={
            <Empty title="Page not found">
              <Link to="/">Back to the dashboard</Link>
            </Empty>
          }
        />
      </Routes>
    </Layout>
  );
}

/** Hash URLs (#/customers/ID) so any static server, `c360 serve` included, serves every deep link. */
export function App() {
  return (
    <HashRouter>
      <AppRoutes />
    </HashRouter>
  );
}
