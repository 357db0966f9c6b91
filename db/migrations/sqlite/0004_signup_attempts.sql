CREATE TABLE `signup_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`bucket` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `signup_attempts_bucket_at` ON `signup_attempts` (`bucket`,`at`);--> statement-breakpoint
CREATE INDEX `signup_attempts_at` ON `signup_attempts` (`at`);