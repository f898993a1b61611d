-- django-authd: NOTIFY django_auth when an answer the daemon caches may have
-- changed (users, groups, memberships; the permission tables for
-- completeness: the daemon reads permissions afresh on every request).
-- Printed by `django-authctl install-triggers --print` with the [schema]
-- names filled in, and run by the django_authd app's migration with its
-- models' names: this file is the one copy of the SQL.
--
-- Placeholders: {q:KEY} is the [schema] KEY quoted as an identifier,
-- {s:KEY} the same name as a string literal. Payloads: user:ID, group:ID,
-- member:USER_ID:GROUP_ID, perm:user:ID, perm:group:ID, key:USER_ID (the SSH
-- key table, [schema] key_table, when the database has it: run this again
-- after creating it), and "all" (TRUNCATE).
-- An UPDATE that changes nothing but the last-login column sends nothing.
-- Idempotent: every object is replaced or dropped first.
-- @@install
CREATE OR REPLACE FUNCTION django_auth_notify() RETURNS trigger
LANGUAGE plpgsql AS $dj$
DECLARE
    new_row jsonb;
    old_row jsonb;
    kind text := TG_ARGV[0];
    payload text;
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('django_auth', 'all');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    IF TG_OP = 'UPDATE' AND TG_ARGV[3] <> '' AND (new_row - TG_ARGV[3]) = (old_row - TG_ARGV[3]) THEN
        RETURN NULL;
    END IF;
    IF new_row IS NOT NULL THEN
        payload := kind || ':' || (new_row ->> TG_ARGV[1]);
        IF TG_ARGV[2] <> '' THEN payload := payload || ':' || (new_row ->> TG_ARGV[2]); END IF;
        PERFORM pg_notify('django_auth', payload);
    END IF;
    IF old_row IS NOT NULL THEN
        -- Sent as well when it is the same text: NOTIFY folds duplicates.
        payload := kind || ':' || (old_row ->> TG_ARGV[1]);
        IF TG_ARGV[2] <> '' THEN payload := payload || ':' || (old_row ->> TG_ARGV[2]); END IF;
        PERFORM pg_notify('django_auth', payload);
    END IF;
    RETURN NULL;
END
$dj$;
DROP TRIGGER IF EXISTS django_auth_notify ON {q:user_table};
CREATE TRIGGER django_auth_notify AFTER INSERT OR UPDATE OR DELETE ON {q:user_table}
    FOR EACH ROW EXECUTE FUNCTION django_auth_notify('user', {s:user_id}, '', {s:user_last_login});
DROP TRIGGER IF EXISTS django_auth_notify_all ON {q:user_table};
CREATE TRIGGER django_auth_notify_all AFTER TRUNCATE ON {q:user_table}
    FOR EACH STATEMENT EXECUTE FUNCTION django_auth_notify();
DROP TRIGGER IF EXISTS django_auth_notify ON {q:group_table};
CREATE TRIGGER django_auth_notify AFTER INSERT OR UPDATE OR DELETE ON {q:group_table}
    FOR EACH ROW EXECUTE FUNCTION django_auth_notify('group', {s:group_id}, '', '');
DROP TRIGGER IF EXISTS django_auth_notify_all ON {q:group_table};
CREATE TRIGGER django_auth_notify_all AFTER TRUNCATE ON {q:group_table}
    FOR EACH STATEMENT EXECUTE FUNCTION django_auth_notify();
DROP TRIGGER IF EXISTS django_auth_notify ON {q:user_groups_table};
CREATE TRIGGER django_auth_notify AFTER INSERT OR UPDATE OR DELETE ON {q:user_groups_table}
    FOR EACH ROW EXECUTE FUNCTION django_auth_notify('member', {s:user_groups_user}, {s:user_groups_group}, '');
DROP TRIGGER IF EXISTS django_auth_notify_all ON {q:user_groups_table};
CREATE TRIGGER django_auth_notify_all AFTER TRUNCATE ON {q:user_groups_table}
    FOR EACH STATEMENT EXECUTE FUNCTION django_auth_notify();
DROP TRIGGER IF EXISTS django_auth_notify ON {q:user_perms_table};
CREATE TRIGGER django_auth_notify AFTER INSERT OR UPDATE OR DELETE ON {q:user_perms_table}
    FOR EACH ROW EXECUTE FUNCTION django_auth_notify('perm:user', {s:user_perms_user}, '', '');
DROP TRIGGER IF EXISTS django_auth_notify ON {q:group_perms_table};
CREATE TRIGGER django_auth_notify AFTER INSERT OR UPDATE OR DELETE ON {q:group_perms_table}
    FOR EACH ROW EXECUTE FUNCTION django_auth_notify('perm:group', {s:group_perms_group}, '', '');
-- The key table's, where it exists. No percent sign here: Django's
-- migration runs this text through the driver's parameter formatting.
DO $dj$
DECLARE
    keys text := to_regclass({s:key_table})::text;
BEGIN
    IF keys IS NOT NULL THEN
        EXECUTE 'DROP TRIGGER IF EXISTS django_auth_notify ON ' || keys;
        EXECUTE 'CREATE TRIGGER django_auth_notify AFTER INSERT OR UPDATE OR DELETE ON ' || keys
                || ' FOR EACH ROW EXECUTE FUNCTION django_auth_notify(''key'', '
                || quote_literal({s:key_user}) || ', '''', '''')';
        EXECUTE 'DROP TRIGGER IF EXISTS django_auth_notify_all ON ' || keys;
        EXECUTE 'CREATE TRIGGER django_auth_notify_all AFTER TRUNCATE ON ' || keys
                || ' FOR EACH STATEMENT EXECUTE FUNCTION django_auth_notify()';
    END IF;
END
$dj$;
-- @@uninstall
DO $dj$
BEGIN
    IF to_regclass({s:key_table}) IS NOT NULL THEN
        EXECUTE 'DROP TRIGGER IF EXISTS django_auth_notify ON ' || to_regclass({s:key_table})::text
                || '; DROP TRIGGER IF EXISTS django_auth_notify_all ON ' || to_regclass({s:key_table})::text;
    END IF;
END
$dj$;
DROP TRIGGER IF EXISTS django_auth_notify ON {q:user_table};
DROP TRIGGER IF EXISTS django_auth_notify_all ON {q:user_table};
DROP TRIGGER IF EXISTS django_auth_notify ON {q:group_table};
DROP TRIGGER IF EXISTS django_auth_notify_all ON {q:group_table};
DROP TRIGGER IF EXISTS django_auth_notify ON {q:user_groups_table};
DROP TRIGGER IF EXISTS django_auth_notify_all ON {q:user_groups_table};
DROP TRIGGER IF EXISTS django_auth_notify ON {q:user_perms_table};
DROP TRIGGER IF EXISTS django_auth_notify ON {q:group_perms_table};
DROP FUNCTION IF EXISTS django_auth_notify();
