CREATE TABLE `used_signup_challenges` (
	`id_hash` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `used_signup_challenges_expires_at` ON `used_signup_challenges` (`expires_at`);--> statement-breakpoint
ALTER TABLE `claim_tokens` ADD `claiming_until` integer;--> statement-breakpoint
ALTER TABLE `claim_tokens` ADD `claimed_by_user_id` integer REFERENCES users(id) ON DELETE set null;--> statement-breakpoint
ALTER TABLE `invite_links` ADD `secret_sealed` text;--> statement-breakpoint
ALTER TABLE `users` ADD `avatar_url` text;