-- One database per service (each service owns its event store and projections).
-- Run once by the postgres image, on first start with an empty data volume.
CREATE DATABASE ants_identity;
CREATE DATABASE ants_requests;
CREATE DATABASE ants_cert;
CREATE DATABASE ants_payment;
CREATE DATABASE ants_documents;
CREATE DATABASE ants_notifications;
