// Builds the chat page's assets into ../static: the CSS (Tailwind 4 + daisyUI 5, only the classes the app uses)
// and copies of the pinned htmx and htmx-ext-sse. Nothing third-party is committed; this runs at setup time.
import {execFileSync} from 'node:child_process';
import {copyFileSync, mkdirSync} from 'node:fs';

mkdirSync('../static/vendor', {recursive: true});
copyFileSync('node_modules/htmx.org/dist/htmx.min.js', '../static/vendor/htmx.min.js');
copyFileSync('node_modules/htmx-ext-sse/dist/sse.min.js', '../static/vendor/sse.min.js');
execFileSync('node_modules/.bin/tailwindcss', ['-i', 'app.css', '-o', '../static/app.css', '--minify'], {stdio: ['ignore', 'ignore', 'inherit']});
