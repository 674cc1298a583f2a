-- A small order system for `make demo`: orders, their items, shipments,
-- and the order system's customers.
-- Load it with the admin role into a freshly created `orders` database,
-- before the daemon starts (DDL is not turned into events). scripts/demo/run
-- first drops the old slot (a database with a logical slot cannot be
-- dropped) and recreates the database:
--   psql -X -v ON_ERROR_STOP=1 "postgres://tributary_admin:tributary_admin@127.0.0.1:15432/postgres" \
--     -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'tributary_orders'" \
--     -c "DROP DATABASE IF EXISTS orders WITH (FORCE)" -c "CREATE DATABASE orders"
--   psql -X -v ON_ERROR_STOP=1 "postgres://tributary_admin:tributary_admin@127.0.0.1:15432/orders" -f scripts/demo/orders.sql
--
-- Every table has a primary key: with the default REPLICA IDENTITY,
-- PostgreSQL identifies the rows of updates and deletes by it (Tributary
-- refuses tables that have neither a primary key nor another identity).
-- The default logs no old row values besides the key, so update events
-- carry "before": null and delete events only the key (docs/events.md,
-- "NULL vs absent"); ALTER TABLE … REPLICA IDENTITY FULL would log them all.
-- The admin creates the publication: creating one needs ownership of the
-- tables, and the CDC role `tributary` owns nothing (it has REPLICATION
-- and, granted below, SELECT); Tributary never changes the schema.

SET client_encoding = 'UTF8';

CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');

CREATE TABLE orders (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_email text          NOT NULL,
  status         order_status  NOT NULL DEFAULT 'pending',
  currency       char(3)       NOT NULL DEFAULT 'EUR',
  total          numeric(12,2) NOT NULL DEFAULT 0.00 CHECK (total >= 0),
  attributes     jsonb         NOT NULL DEFAULT '{}',
  tags           text[]        NOT NULL DEFAULT '{}',
  placed_at      timestamptz   NOT NULL DEFAULT now(),
  updated_at     timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX ix_orders_customer ON orders (customer_email);

CREATE TABLE order_items (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id    bigint        NOT NULL REFERENCES orders (id),
  sku         text          NOT NULL,
  description text          NOT NULL,
  quantity    integer       NOT NULL CHECK (quantity > 0),
  unit_price  numeric(12,2) NOT NULL CHECK (unit_price >= 0),
  attributes  jsonb         NULL
);
CREATE INDEX ix_order_items_order ON order_items (order_id);

CREATE TABLE shipments (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id        bigint      NOT NULL REFERENCES orders (id),
  carrier         text        NOT NULL,
  tracking_number uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  status          text        NOT NULL DEFAULT 'label_created'
                  CHECK (status IN ('label_created', 'in_transit', 'delivered', 'returned')),
  address         jsonb       NOT NULL,
  shipped_at      timestamptz NULL,
  delivered_at    timestamptz NULL
);
CREATE INDEX ix_shipments_order ON shipments (order_id);

-- The order system's own customer records: the same people as the CRM's
-- crm.customers, under other column names. configs/demo.yaml maps both
-- tables onto one canonical entity (topic canonical.customer).
CREATE TABLE customers (
  customer_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  full_name   text        NOT NULL,
  email       text        NOT NULL UNIQUE,
  phone       text        NULL,
  country     char(2)     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Seed rows: ids 1, 2, 3 in a fresh database. They exist before the slot
-- does, so they are not events.
INSERT INTO orders (customer_email, status, currency, total, attributes, tags, placed_at) VALUES
  ('zoe@alund.se',          'delivered', 'SEK', 1499.00, '{"channel":"web","coupon":"NORDIC10"}', '{vip}',            '2024-07-01 09:15:00+02'),
  ('hola@cafenunez.es',     'paid',      'EUR',  312.40, '{"channel":"phone"}',                   '{horeca,b2b}',     '2024-07-02 11:30:00.5+02'),
  ('info@sakura.example.jp','pending',   'JPY', 5800.00, '{"channel":"web","lang":"ja"}',         '{}',               '2024-07-03 23:59:59.999999+09');

INSERT INTO order_items (order_id, sku, description, quantity, unit_price, attributes) VALUES
  (1, 'KB-NORD-01', 'Tangentbord, nordisk layout ⌨️', 1, 1499.00, '{"layout":"SE"}'),
  (2, 'ESP-BEAN-1K', 'Espresso beans, 1 kg',          4,   28.10, '{"roast":"dark"}'),
  (2, 'ESP-CUP-6',   'Espresso cups ☕ (set of 6)',    2,  100.00, NULL),
  (3, 'TEA-SENCHA',  '煎茶 Sencha, 100 g',            2, 1800.00, '{"origin":"Shizuoka"}'),
  (3, 'TEA-POT-KY',  '急須 Kyusu teapot',             1, 2200.00, NULL);

INSERT INTO customers (full_name, email, phone, country, created_at) VALUES
  ('Zoë Ålund',     'zoe@alund.se',           '+46 70 111 22 33', 'SE', '2024-07-01 09:10:00+02'),
  ('José Nuñez',    'hola@cafenunez.es',      '+34 600 123 456',  'ES', '2024-07-02 11:25:00+02'),
  ('さくら 商店',    'info@sakura.example.jp', NULL,               'JP', '2024-07-03 23:50:00+09');

INSERT INTO shipments (order_id, carrier, tracking_number, status, address, shipped_at, delivered_at) VALUES
  (1, 'PostNord', 'a3c1e6f0-5b2d-4c8e-9f1a-7d2b3c4e5f60', 'delivered',
   '{"name":"Zoë Ålund","city":"Stockholm","country":"SE"}', '2024-07-01 16:00:00+02', '2024-07-03 10:42:00+02');

-- The CDC role reads the tables (Tributary's preflight and the initial
-- catalog look-ups); the publication names the tables the slot decodes.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO tributary;
CREATE PUBLICATION tributary_orders FOR TABLE orders, order_items, shipments, customers;
