CREATE TABLE `login_failures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`bucket` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `login_failures_bucket_at` ON `login_failures` (`bucket`,`at`);--> statement-breakpoint
CREATE INDEX `login_failures_at` ON `login_failures` (`at`);--> statement-breakpoint
CREATE TABLE `sessions` (
	`id_hash` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`idle_expires_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sessions_user` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `sessions_idle_expires_at` ON `sessions` (`idle_expires_at`);--> statement-breakpoint
ALTER TABLE `access_tokens` ADD `kind` text DEFAULT 'agent' NOT NULL;--> statement-breakpoint
ALTER TABLE `access_tokens` ADD `description` text;--> statement-breakpoint
ALTER TABLE `access_tokens` ADD `last_used_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `login_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `seen_at` integer;