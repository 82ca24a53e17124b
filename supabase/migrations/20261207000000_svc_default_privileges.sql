-- Functions of schema svc are the services' alone: EXECUTE for service_role, nothing for
-- the API's other roles, said once as default privileges (migration 20261125000100 says
-- the same for a new project; this says it for a project that applied that migration
-- before it did). Idempotent.
alter default privileges for role postgres in schema svc revoke execute on functions from anon, authenticated;
alter default privileges for role postgres in schema svc grant execute on functions to service_role;
