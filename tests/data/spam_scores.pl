# SpamAssassin's shipped rules on each message file named, local tests only (as `spamassassin -L -t`),
# with the rules loaded once for all of them: "=== <file> <score>", then the report, per message.
use strict;
use warnings;
use Mail::SpamAssassin;

my $sa = Mail::SpamAssassin->new({ local_tests_only => 1, dont_copy_prefs => 1 });
$sa->init(1);
for my $file (@ARGV) {
    open(my $fh, '<:raw', $file) or die "$file: $!";
    my $text = do { local $/; <$fh> };
    close $fh;
    my $mail = $sa->parse($text);
    my $status = $sa->check($mail);
    printf "=== %s %s\n", $file, $status->get_score();
    print $status->get_report();
    $status->finish;
    $mail->finish;
}
