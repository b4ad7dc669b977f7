"""The data contract between layers: bronze and silver table schemas.

Bronze keeps Salesforce API field names and raw API types (dates and
datetimes arrive as ISO strings, numbers as doubles), exactly as the REST
API returns them, so that the generator and the real extractor write the
same tables and silver does all parsing.  Silver is clean, typed, snake_case
and USD-normalised.  Every module that reads or writes a layer takes its
column names from here.
"""

from __future__ import annotations

import pyarrow as pa

STR = pa.string()
F64 = pa.float64()
BOOL = pa.bool_()
I64 = pa.int64()
DATE = pa.date32()
TS = pa.timestamp("us", tz="UTC")

# Columns the extractor (or the generator, or a feed loader) adds to every bronze row.
BRONZE_METADATA = pa.schema(
    [
        ("_batch_id", STR),  # the extraction run that wrote the row
        ("_extracted_at", STR),  # ISO-8601 UTC instant the row was extracted
        ("_source", STR),  # "salesforce", "generator", or "feed:<file name>"
    ]
)

# Salesforce system fields present on every extracted object.
_SYSTEM = [
    ("Id", STR),
    ("IsDeleted", BOOL),
    ("CreatedDate", STR),  # e.g. "2024-03-15T10:22:01.000+0000"
    ("LastModifiedDate", STR),
    ("SystemModstamp", STR),
]


def _sf(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(_SYSTEM + list(fields))


# Salesforce objects, by API name.
BRONZE_SALESFORCE: dict[str, pa.Schema] = {
    "User": _sf(("Name", STR), ("Email", STR), ("IsActive", BOOL), ("UserRoleName", STR)),
    "Account": _sf(
        ("Name", STR),
        ("ParentId", STR),
        ("Type", STR),  # "Customer", "Prospect", ...
        ("Industry", STR),
        ("BillingCountry", STR),  # ISO code or name as typed by users: "DE", "de", "Germany"
        ("BillingCity", STR),
        ("Phone", STR),
        ("Website", STR),
        ("NumberOfEmployees", F64),
        ("AnnualRevenue", F64),
        ("CurrencyIsoCode", STR),
        ("OwnerId", STR),
    ),
    "Contact": _sf(
        ("AccountId", STR),
        ("FirstName", STR),
        ("LastName", STR),
        ("Email", STR),
        ("Phone", STR),
        ("Title", STR),
        ("LastActivityDate", STR),  # date "YYYY-MM-DD"
    ),
    "Product2": _sf(("Name", STR), ("ProductCode", STR), ("Family", STR), ("IsActive", BOOL)),
    "Opportunity": _sf(
        ("AccountId", STR),
        ("Name", STR),
        ("Type", STR),  # "New Business", "Renewal", "Upsell"
        ("StageName", STR),  # "Prospecting" ... "Closed Won", "Closed Lost"
        ("Amount", F64),
        ("CurrencyIsoCode", STR),
        ("CloseDate", STR),  # date
        ("Probability", F64),
        ("IsClosed", BOOL),
        ("IsWon", BOOL),
        ("ContractTerm__c", F64),  # months; null means the configured default
        ("OwnerId", STR),
    ),
    "OpportunityLineItem": _sf(
        ("OpportunityId", STR),
        ("Product2Id", STR),
        ("ProductCode", STR),
        ("Name", STR),
        ("Quantity", F64),
        ("UnitPrice", F64),
        ("TotalPrice", F64),  # total contract value of the line, in CurrencyIsoCode
        ("CurrencyIsoCode", STR),
        ("ServiceDate", STR),  # date the service starts
        ("Term_Months__c", F64),  # months the line is billed for; null -> opportunity term
    ),
    "Case": _sf(
        ("AccountId", STR),
        ("ContactId", STR),
        ("CaseNumber", STR),
        ("Subject", STR),
        ("Status", STR),  # "New", "Working", "Escalated", "Closed"
        ("Priority", STR),  # "Critical", "High", "Medium", "Low"
        ("Origin", STR),
        ("Type", STR),
        ("IsEscalated", BOOL),
        ("IsClosed", BOOL),
        ("ClosedDate", STR),  # datetime
    ),
    "Contract": _sf(
        ("AccountId", STR),
        ("ContractNumber", STR),
        ("Status", STR),  # "Draft", "Activated", "Expired"
        ("StartDate", STR),
        ("EndDate", STR),
        ("ContractTerm", F64),  # months
    ),
    "Event": _sf(
        ("AccountId", STR),
        ("WhoId", STR),  # contact
        ("Subject", STR),
        ("Type", STR),  # "Meeting", "QBR", "Call", ...
        ("ActivityDate", STR),  # date
        ("DurationInMinutes", F64),
    ),
    "Task": _sf(
        ("AccountId", STR),
        ("WhoId", STR),
        ("Subject", STR),
        ("Type", STR),  # "Call", "Email", ...
        ("Status", STR),  # "Not Started", "Completed"
        ("ActivityDate", STR),
    ),
    # Installed services (lines, circuits, devices) at an account.
    "Asset": _sf(
        ("AccountId", STR),
        ("ContactId", STR),
        ("Product2Id", STR),
        ("Name", STR),
        ("SerialNumber", STR),
        ("Status", STR),  # "Purchased", "Shipped", "Installed", "Registered", "Obsolete"
        ("Quantity", F64),
        ("Price", F64),
        ("CurrencyIsoCode", STR),
        ("PurchaseDate", STR),  # date
        ("InstallDate", STR),  # date
        ("UsageEndDate", STR),  # date
    ),
    # Multi-currency tables: ConversionRate is units of IsoCode per one unit of the
    # corporate currency (the row with IsCorporate = true).
    "CurrencyType": _sf(("IsoCode", STR), ("ConversionRate", F64), ("IsCorporate", BOOL), ("IsActive", BOOL)),
    "DatedConversionRate": _sf(
        ("IsoCode", STR),
        ("ConversionRate", F64),
        ("StartDate", STR),  # inclusive
        ("NextStartDate", STR),  # exclusive
    ),
}

# File feeds from billing and the usage mediation platform (CSV or Parquet files
# dropped into bronze/<feed>/); documented in docs/data-model.md.
BRONZE_FEEDS: dict[str, pa.Schema] = {
    "billing_invoices": pa.schema(
        [
            ("invoice_id", STR),
            ("account_id", STR),  # Salesforce Account Id
            ("invoice_number", STR),
            ("issue_date", STR),
            ("due_date", STR),
            ("paid_date", STR),  # empty while unpaid
            ("amount", F64),
            ("currency", STR),
            ("status", STR),  # "ISSUED", "PAID", "VOID"
            ("updated_at", STR),  # datetime; latest version of an invoice wins
        ]
    ),
    "monthly_usage": pa.schema(
        [
            ("account_id", STR),
            ("service_code", STR),  # a Product2.ProductCode
            ("usage_month", STR),  # "YYYY-MM"
            ("quantity", F64),
            ("unit", STR),  # "GB", "minutes", "lines", "devices", ...
            ("updated_at", STR),
        ]
    ),
}

BRONZE_TABLES: dict[str, pa.Schema] = {**BRONZE_SALESFORCE, **BRONZE_FEEDS}

# Silver: one clean table per entity; the batch a rejected row came from is kept in quarantine.
SILVER_TABLES: dict[str, pa.Schema] = {
    "accounts": pa.schema(
        [
            ("account_id", STR),
            ("account_name", STR),
            ("parent_id", STR),
            ("account_type", STR),
            ("industry", STR),
            ("country_code", STR),  # ISO 3166-1 alpha-2
            ("region", STR),  # AMER / EMEA / APAC
            ("city", STR),
            ("phone", STR),  # E.164
            ("website", STR),
            ("employees", I64),
            ("currency_code", STR),
            ("owner_id", STR),
            ("owner_name", STR),
            ("created_at", TS),
            ("modified_at", TS),
        ]
    ),
    "users": pa.schema([("user_id", STR), ("user_name", STR), ("email", STR), ("is_active", BOOL)]),
    "products": pa.schema(
        [("product_id", STR), ("product_code", STR), ("product_name", STR), ("product_family", STR)]
    ),
    "contacts": pa.schema(
        [
            ("contact_id", STR),
            ("account_id", STR),
            ("first_name", STR),
            ("last_name", STR),
            ("email", STR),  # lower-cased, validated
            ("phone", STR),  # E.164
            ("title", STR),
            ("last_activity_date", DATE),
            ("modified_at", TS),
        ]
    ),
    "opportunities": pa.schema(
        [
            ("opportunity_id", STR),
            ("account_id", STR),
            ("opportunity_name", STR),
            ("opportunity_type", STR),  # NEW_BUSINESS / RENEWAL / UPSELL
            ("stage", STR),  # normalised stage name
            ("status", STR),  # OPEN / WON / LOST
            ("amount", F64),
            ("currency_code", STR),
            ("fx_rate_to_usd", F64),  # amount_usd = amount * fx_rate_to_usd
            ("amount_usd", F64),
            ("close_date", DATE),
            ("created_at", TS),
            ("term_months", I64),
            ("owner_id", STR),
        ]
    ),
    "opportunity_line_items": pa.schema(
        [
            ("line_item_id", STR),
            ("opportunity_id", STR),
            ("account_id", STR),  # from the opportunity
            ("product_id", STR),
            ("product_code", STR),
            ("product_name", STR),
            ("quantity", F64),
            ("unit_price", F64),
            ("total_price", F64),
            ("currency_code", STR),
            ("fx_rate_to_usd", F64),  # by the opportunity's CloseDate
            ("total_price_usd", F64),
            ("service_start_date", DATE),
            ("term_months", I64),
            ("service_end_date", DATE),  # exclusive: start + term months
        ]
    ),
    "cases": pa.schema(
        [
            ("case_id", STR),
            ("account_id", STR),
            ("contact_id", STR),
            ("case_number", STR),
            ("subject", STR),
            ("status", STR),
            ("priority", STR),  # CRITICAL / HIGH / MEDIUM / LOW
            ("origin", STR),
            ("is_escalated", BOOL),
            ("is_closed", BOOL),
            ("created_at", TS),
            ("closed_at", TS),
        ]
    ),
    "contracts": pa.schema(
        [
            ("contract_id", STR),
            ("account_id", STR),
            ("contract_number", STR),
            ("status", STR),  # DRAFT / ACTIVATED / EXPIRED
            ("start_date", DATE),
            ("end_date", DATE),
            ("term_months", I64),
        ]
    ),
    "activities": pa.schema(
        [
            ("activity_id", STR),
            ("account_id", STR),
            ("contact_id", STR),
            ("activity_kind", STR),  # EVENT / TASK
            ("activity_type", STR),
            ("subject", STR),
            ("status", STR),
            ("activity_date", DATE),
            ("is_qbr", BOOL),
        ]
    ),
    "invoices": pa.schema(
        [
            ("invoice_id", STR),
            ("account_id", STR),
            ("invoice_number", STR),
            ("issue_date", DATE),
            ("due_date", DATE),
            ("paid_date", DATE),
            ("amount", F64),
            ("currency_code", STR),
            ("fx_rate_to_usd", F64),
            ("amount_usd", F64),
            ("status", STR),  # ISSUED / PAID / VOID
        ]
    ),
    "usage": pa.schema(
        [
            ("account_id", STR),
            ("service_code", STR),
            ("usage_month", DATE),  # first day of the month
            ("quantity", F64),
            ("unit", STR),
        ]
    ),
    "fx_rates": pa.schema(
        [
            ("currency_code", STR),
            ("rate_to_usd", F64),  # USD per one unit of currency_code
            ("valid_from", DATE),  # null for undated (CurrencyType / configured) rates
            ("valid_to", DATE),  # exclusive; null = open-ended
            ("source", STR),  # DatedConversionRate / CurrencyType / config
        ]
    ),
}

QUARANTINE_SCHEMA = pa.schema(
    [
        ("table", STR),  # bronze object or feed
        ("record_id", STR),
        ("rule", STR),  # e.g. "required", "date_parse", "non_negative", "currency_code"
        ("field", STR),
        ("value", STR),  # the offending value, as text
        ("message", STR),
        ("source_batch_id", STR),
    ]
)
