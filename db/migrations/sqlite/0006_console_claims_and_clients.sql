CREATE TABLE `mail_sends` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`bucket` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mail_sends_bucket_at` ON `mail_sends` (`bucket`,`at`);--> statement-breakpoint
CREATE INDEX `mail_sends_at` ON `mail_sends` (`at`);--> statement-breakpoint
CREATE TABLE `refresh_tokens` (
	`id_hash` text PRIMARY KEY NOT NULL,
	`family` text NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `refresh_tokens_family` ON `refresh_tokens` (`family`);--> statement-breakpoint
CREATE INDEX `refresh_tokens_user` ON `refresh_tokens` (`user_id`);--> statement-breakpoint
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