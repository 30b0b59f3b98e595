"""The WeCom (企业微信) connector (DESIGN §20): callbacks in, calls out, staff confirmation, the quota
ledger and sync, for a self-built app with 客户联系 permission."""
